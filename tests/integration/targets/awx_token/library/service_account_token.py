#!/usr/bin/python
# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ServiceAccount token from the TokenRequest API, with the API server it is valid for."""

from __future__ import annotations

DOCUMENTATION = r"""
module: service_account_token
short_description: Get a ServiceAccount token with a TokenRequest (integration target awx_token only)
description:
  - Creates a TokenRequest for a ServiceAccount, over the connection the kubeops.platform modules resolve.
  - Returns the token, the API server URL, and the CA certificate that connection trusts, which is
    what the AWX Bearer Token credential holds.
options:
  namespace: {description: The ServiceAccount's namespace., type: str, required: true}
  name: {description: The ServiceAccount., type: str, required: true}
  expiration_seconds: {description: How long the token is valid., type: int, default: 3600}
extends_documentation_fragment: [kubeops.platform.k8s_auth]
author: [kubeops.platform maintainers]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.platform.plugins.module_utils._module import argument_spec, run


def request_token(module, client) -> dict:
    namespace, name = module.params["namespace"], module.params["name"]
    answer = client.create(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
         "spec": {"expirationSeconds": module.params["expiration_seconds"]}},
        action=f"request a token for ServiceAccount {namespace}/{name}")
    conn = client.conn
    ca_pem = conn.ca_data.decode() if conn.ca_data else ""
    if not ca_pem and conn.ca_file:
        with open(conn.ca_file, encoding="utf-8") as handle:
            ca_pem = handle.read()
    return {"changed": True, "token": answer["status"]["token"], "host": conn.server,
            "ca_pem": ca_pem, "verify": conn.verify}


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(namespace={"type": "str", "required": True}, name={"type": "str", "required": True},
                                    expiration_seconds={"type": "int", "default": 3600}),
        supports_check_mode=False)
    run(module, request_token)


if __name__ == "__main__":
    main()
