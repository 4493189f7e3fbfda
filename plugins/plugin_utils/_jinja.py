# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module_utils functions as Jinja filters and tests, with Ansible's error for bad input.

Private to the kubeops.platform collection: no compatibility promise outside it.
"""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError


def template_function(func):
    """``func`` for templates: its ValueError (a bad value and the rule it breaks) becomes AnsibleFilterError."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from None

    return wrapper


def each(func):
    """``func`` applied to every item of a list, or to a single value."""

    @functools.wraps(func)
    def wrapper(value, *args, **kwargs):
        if isinstance(value, list):
            return [func(item, *args, **kwargs) for item in value]
        return func(value, *args, **kwargs)

    return wrapper
