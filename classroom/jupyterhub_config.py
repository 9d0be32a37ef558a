# The classroom hub's JupyterHub configuration (classroom/hub.py copies it into the hub's prefix).
# Everything that differs between classes (learners, address, ports, paths) is in the settings
# file hub.py writes (root-only, 0600) and names in LLM_COURSE_HUB_SETTINGS.
import importlib.util
import json
import os
import sys

S = json.loads(open(os.environ["LLM_COURSE_HUB_SETTINGS"], encoding="utf-8").read())
STATE = S["state"]

# The log-in (classroom/auth.py, copied beside this file): loaded by path, so no other module named
# "auth" can stand in for it.
_spec = importlib.util.spec_from_file_location("llm_course_hub_auth", os.path.join(os.path.dirname(__file__), "auth.py"))
_auth = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _auth
_spec.loader.exec_module(_auth)
WorkshopAuthenticator = _auth.WorkshopAuthenticator


c = get_config()  # noqa: F821 - JupyterHub provides it

c.JupyterHub.authenticator_class = WorkshopAuthenticator
c.WorkshopAuthenticator.passwords_file = os.path.join(STATE, "passwords.json")
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
# Learners' own ~/.jupyter (and ~/.local/share/jupyter) is not read: a learner cannot replace the
# course kernel's spec, its environment or its memory cap, nor the server's settings.
c.Spawner.disable_user_config = True
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
