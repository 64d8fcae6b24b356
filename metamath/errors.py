"""Errors that users see: each names the file, line or key at fault."""


class MetaMathError(Exception):
    """Base class: the CLI prints these without a traceback."""


class ConfigError(MetaMathError):
    """A config file or override is invalid (unknown key, wrong type, missing value)."""


class DataError(MetaMathError):
    """A data file is missing or a row is malformed."""


class ModelNotAvailable(MetaMathError):
    """A named model cannot be found or converted."""


class EndpointRejected(MetaMathError):
    """The teacher endpoint refused the request itself (bad key, no access, unknown model): no
    retry or later request can succeed, so the job stops at the first one."""


class AllRequestsFailed(MetaMathError):
    """Every request of a run failed: the outputs were written, but hold nothing new."""


class BudgetReached(MetaMathError):
    """The run reached teacher.max_cost_usd or teacher.max_requests: what was bought is stored,
    nothing more was sent. The CLI exits with BUDGET_EXIT_CODE."""


BUDGET_EXIT_CODE = 3


def user_error(exc: BaseException) -> MetaMathError | None:
    """The MetaMathError behind `exc`, also when Ray wrapped it (a worker raised it)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, MetaMathError):
            return current
        stack += [getattr(current, "cause", None), current.__cause__, current.__context__]
    return _from_remote_traceback(exc)


def _from_remote_traceback(exc: BaseException) -> MetaMathError | None:
    """Ray Data hands a worker's exception back as text inside its own (the cause chain is not
    pickled): find `metamath.errors.<Class>: <message>` there."""
    import re

    text = f"{exc}\n{getattr(exc, 'traceback_str', '')}"
    found = re.findall(r"metamath\.errors\.(\w+): (.+)", text)
    if not found:
        return None
    name, message = found[-1]
    kind = globals().get(name)
    if isinstance(kind, type) and issubclass(kind, MetaMathError):
        return kind(message.strip())
    return None


class SubmittedOnly(Exception):
    """`augment --submit-only` created its batches and stops here (not a failure: exit 0)."""
