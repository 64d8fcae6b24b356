"""The augment stage: AnsAug, Rephrasing, SV and FOBAR through the teacher, every answer checked."""
