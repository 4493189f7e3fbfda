# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's errors, in one place: each becomes one clear task failure.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only, and no Ansible: module_utils raise these, the module glue reports them.
"""

from __future__ import annotations


class ConfigError(Exception):
    """The connection settings are incomplete or inconsistent."""


class UnreachableError(Exception):
    """No answer from the API server (refused, timed out, DNS, TLS)."""


class ApiError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str, action: str = "", body: dict | None = None):
        self.status = status
        self.reason = reason
        self.message = message
        self.action = action
        self.body = body or {}
        super().__init__(str(self))

    def __str__(self) -> str:
        prefix = f"{self.action}: " if self.action else ""
        return f"{prefix}{self.message} (HTTP {self.status} {self.reason})"


class TaskFailed(Exception):
    """A failure that still reports what was done before it (partial results)."""

    def __init__(self, message: str, **result):
        super().__init__(message)
        self.result = result
