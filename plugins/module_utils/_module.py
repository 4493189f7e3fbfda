# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue between AnsibleModule and the client: shared options, one error path.

Private to the kubeops.platform collection: no compatibility promise outside it.
"""

from __future__ import annotations

from typing import Callable

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.kubeops.platform.plugins.module_utils._client import K8sClient
from ansible_collections.kubeops.platform.plugins.module_utils._connection import auth_argument_spec, resolve_connection
from ansible_collections.kubeops.platform.plugins.module_utils._errors import (
    ApiError,
    ConfigError,
    TaskFailed,
    UnreachableError,
)


def argument_spec(**options: dict) -> dict:
    """The module's own options plus the shared connection options (doc fragment ``k8s_auth``)."""
    spec = auth_argument_spec(env_fallback)
    spec.update(options)
    return spec


def make_client(module: AnsibleModule) -> K8sClient:
    return K8sClient(resolve_connection(module.params, run_command=module.run_command))


def run(module: AnsibleModule, task: Callable[[AnsibleModule, K8sClient], dict]) -> None:
    """Run ``task`` with a client and report its result; every known failure becomes fail_json."""
    client = None
    try:
        client = make_client(module)
        result = task(module, client)
    except TaskFailed as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except (ConfigError, UnreachableError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    except ApiError as exc:
        module.fail_json(msg=str(exc), status=exc.status, reason=exc.reason)
    finally:
        if client is not None:
            client.close()
    module.exit_json(**result)
