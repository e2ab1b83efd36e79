package agent

import "errors"

// ErrNotRoot explains why the agent needs root.
var ErrNotRoot = errors.New("the agent manages the students' Unix accounts and passwords (JupyterHub logs them in " +
	"through PAM), so it runs as root: use sudo (sudo scripts/up). To keep this machine unprivileged, run " +
	"`wod server` here and `wod agent` as root on the JupyterHub host, or point that agent at an existing hub " +
	"with --hub-api and --hub-token")
