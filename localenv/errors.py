"""Errors `python -m localenv` reports as one clear message, without a traceback."""


class LocalEnvError(Exception):
    """A problem the user can act on; the message says what to do."""


class MissingBinary(LocalEnvError):
    def __init__(self, name: str, searched: list[str]):
        super().__init__(
            f"{name} not found (searched {', '.join(searched)} and PATH): run `make tools`"
        )
        self.name = name


class PortInUse(LocalEnvError):
    def __init__(self, port: int, component: str, holder: str, env_name: str):
        super().__init__(
            f"port {port} for {component} is already in use by {holder}; "
            f"stop that program or choose another port with {env_name}=PORT"
        )
        self.port = port
        self.component = component


class ComponentFailed(LocalEnvError):
    def __init__(self, component: str, reason: str, log_file, log_tail: str):
        super().__init__(
            f"{component} {reason}. Last lines of {log_file}:\n{log_tail}"
        )
        self.component = component
