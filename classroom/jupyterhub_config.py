# The classroom hub's JupyterHub configuration (classroom/hub.py copies it into the hub's prefix).
# Everything that differs between classes (learners, address, ports, paths) is in the settings
# file hub.py writes (root-only, 0600) and names in LLM_COURSE_HUB_SETTINGS.
import hashlib
import hmac
import json
import os

from jupyterhub.auth import Authenticator

S = json.loads(open(os.environ["LLM_COURSE_HUB_SETTINGS"], encoding="utf-8").read())
STATE = S["state"]


class WorkshopAuthenticator(Authenticator):
    """One generated password per learner, checked against salted PBKDF2 hashes in a root-only file.

    The file is read at every login, so ``hub.py --new-password NAME`` takes effect without a restart.
    """

    async def authenticate(self, handler, data):
        name = self.normalize_username((data or {}).get("username", ""))
        password = (data or {}).get("password", "")
        try:
            with open(os.path.join(STATE, "passwords.json"), encoding="utf-8") as fh:
                entry = json.load(fh).get(name)
        except (OSError, ValueError):
            return None
        if not entry or not password:
            return None
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(entry["salt"]), entry["rounds"])
        return name if hmac.compare_digest(digest.hex(), entry["hash"]) else None


c = get_config()  # noqa: F821 - JupyterHub provides it

c.JupyterHub.authenticator_class = WorkshopAuthenticator
c.Authenticator.allowed_users = set(S["learners"])
c.Authenticator.admin_users = set()  # the instructor works from the command line (hub.py), not as an admin user

# Addresses: the proxy (what learners open) where the instructor chose; everything else on loopback.
c.JupyterHub.ip = S["ip"]
c.JupyterHub.port = S["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = S["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{S['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [S["node"], S["chp"]]
c.ConfigurableHTTPProxy.pid_file = os.path.join(STATE, "proxy.pid")
c.Spawner.ip = "127.0.0.1"

# State that survives a restart, readable by root only (the state folder is 0700).
c.JupyterHub.cookie_secret_file = os.path.join(STATE, "jupyterhub_cookie_secret")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(STATE, "jupyterhub.sqlite")
c.JupyterHub.pid_file = os.path.join(STATE, "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server

# Each learner's server: the hub environment's Jupyter, started as the learner, with nothing of
# root's environment but the language; the course kernel (kernel.json) runs the course's Python.
c.Spawner.cmd = [S["hub_python"], "-m", "jupyterhub.singleuser"]
c.Spawner.env_keep = ["LANG", "LC_ALL"]
c.Spawner.environment = S["learner_env"]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = S["default_url"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

c.JupyterHub.services = [
    {"name": "idle-culler",
     "command": [S["hub_python"], "-m", "jupyterhub_idle_culler", f"--timeout={S['idle_timeout']}",
                 "--cull-every=60"]},
    # The instructor's (and the test's) API token: in a root-only file, never printed.
    {"name": "instructor", "api_token": open(os.path.join(STATE, "admin-token"), encoding="utf-8").read().strip()},
]
c.JupyterHub.load_roles = [
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    {"name": "instructor", "services": ["instructor"],
     "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "read:users"]},
]
