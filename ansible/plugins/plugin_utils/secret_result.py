# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""An action plugin base for modules that can return a secret Okta handed back (a password-reset
or activation link): it runs the module as usual and, when the result holds such a secret, marks
the whole result no_log. Callbacks and logs then see it censored, at any verbosity. The registered
variable keeps every key, so the playbook decides where the secret goes.

A module cannot do this itself: Ansible drops ``_ansible_*`` keys from a module's own result.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

#: Result keys that hold a secret.
SECRET_KEYS = ("reset_link", "activation_link", "reset_links", "activation_links")


class SecretResultAction(ActionBase):
    """Run the module of the same name; censor its result for display when it returned a secret."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super(SecretResultAction, self).run(tmp, task_vars)
        del tmp
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if any(result.get(key) for key in SECRET_KEYS):
            result["_ansible_no_log"] = True
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
