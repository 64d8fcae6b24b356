"""Typed run configuration: YAML files plus dotted overrides, validated before any work."""

from metamath.config.loader import ConfigError, load_config, parse_overrides
from metamath.config.schema import (
    AblateConfig,
    AugmentConfig,
    DarsConfig,
    DataConfig,
    EvaluateConfig,
    LoraConfig,
    MetaMathConfig,
    PipelineConfig,
    EngineConfig,
    TeacherConfig,
    TrainConfig,
)

__all__ = [
    "AblateConfig",
    "AugmentConfig",
    "ConfigError",
    "DarsConfig",
    "DataConfig",
    "EvaluateConfig",
    "LoraConfig",
    "MetaMathConfig",
    "PipelineConfig",
    "EngineConfig",
    "TeacherConfig",
    "TrainConfig",
    "load_config",
    "parse_overrides",
]
