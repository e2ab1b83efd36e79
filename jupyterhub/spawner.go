package jupyterhub

import "fmt"

// RuntimeRoot holds each student's Jupyter runtime directory,
// RuntimeRoot/<uid> (JUPYTER_RUNTIME_DIR of their server): the kernels'
// connection files and, since their sockets are Unix sockets there
// (KernelManager.transport ipc), the sockets themselves. It is root's and
// no one else writes in it; the spawner makes the student's directory anew
// at each start, and the agent removes it with the seat's other traces.
//
// Kernels on TCP (Jupyter's default) take ports that jupyter_client picked
// free a moment before: twenty kernels starting together on one host
// collide now and then ("Address already in use"), the kernel is restarted
// on new ports and the notebook waits 60 s for an answer on the old ones.
// And any student could connect to another's kernel ports on loopback
// (the HMAC key held; still, nothing to reach is better). A home-relative
// runtime directory would make the socket paths too long for a deep
// student root (Unix socket paths end at 108 bytes).
const RuntimeRoot = "/run/wod-jupyter"

// renderSpawner writes the spawner of the configuration.
//
// Every student's server writes its output (and its kernels' and
// terminals') to its own file in the hub's directory, not to the hub's
// output: a server outlives a restart of the hub and of wod (KeepServers),
// and one still writing to the pipe of the process that started it gets
// EPIPE, so its next kernels died at their first output. The file is
// opened by root in a directory only root reaches; the student's processes
// hold only the descriptor; keepServerLogsSmall bounds its size.
//
// With cgroup directories, each student's server also joins the student's
// group (made by the agent at create) between fork and exec, while it is
// still root: the server and everything it ever starts are then held by
// the group's limits, and no student process runs a moment outside them. A
// spawn whose group is missing or cannot be joined fails: a server without
// limits is worse than none.
func (h hubConfig) renderSpawner(line func(format string, args ...any)) {
	line("# Each student's server writes its output to <hub dir>/%s/<name>.log (a", serverLogsDir)
	line("# server that outlives the hub must not write to the hub's pipe).")
	line("# Its kernels talk over Unix sockets in %s/<uid>, made anew at each start.", RuntimeRoot)
	line("import os as _wod_os, pwd as _wod_pwd, re as _wod_re, shutil as _wod_shutil, stat as _wod_stat")
	line("import subprocess as _wod_subprocess")
	line("from jupyterhub.spawner import LocalProcessSpawner")
	line("")
	line("_WOD_NAME = %s", pyStr(`[a-z_][a-z0-9_-]{0,31}`))
	line("_WOD_SERVER_LOGS = %s", pyStr(h.ServerLogDir))
	line("_WOD_RUNTIME = %s", pyStr(RuntimeRoot))
	line("c.Spawner.args = [%s]", pyStr("--KernelManager.transport=ipc"))
	line("")
	line("def _wod_runtime_dir(name):")
	line("    # Root's directory of runtime directories: nobody else can have made")
	line("    # or replaced an entry in it.")
	line("    pw = _wod_pwd.getpwnam(name)")
	line("    _wod_os.makedirs(_WOD_RUNTIME, mode=0o755, exist_ok=True)")
	line("    st = _wod_os.lstat(_WOD_RUNTIME)")
	line("    if not _wod_stat.S_ISDIR(st.st_mode) or st.st_uid != 0:")
	line("        raise RuntimeError(%s %% (_WOD_RUNTIME,))", pyStr("wod: %s is not a directory of root's: not spawned"))
	line("    _wod_os.chmod(_WOD_RUNTIME, 0o755)")
	line("    d = _wod_os.path.join(_WOD_RUNTIME, str(pw.pw_uid))")
	line("    try:")
	line("        if _wod_stat.S_ISDIR(_wod_os.lstat(d).st_mode):")
	line("            _wod_shutil.rmtree(d)  # the last server's: stale sockets and secrets")
	line("        else:")
	line("            _wod_os.unlink(d)")
	line("    except FileNotFoundError:")
	line("        pass")
	line("    _wod_os.mkdir(d, 0o700)")
	line("    _wod_os.chown(d, pw.pw_uid, pw.pw_gid)")
	line("    return d")
	line("")
	line("class WodSpawner(LocalProcessSpawner):")
	line("    _wod_runtime = None")
	line("")
	line("    def get_env(self):")
	line("        env = super().get_env()")
	line("        if self._wod_runtime:")
	line("            env[%s] = self._wod_runtime", pyStr("JUPYTER_RUNTIME_DIR"))
	line("        return env")
	line("")
	line("    async def start(self):")
	line("        name = self.user.name")
	line("        if not _wod_re.fullmatch(_WOD_NAME, name):")
	line("            raise RuntimeError(%s %% (name,))", pyStr("wod: %r cannot name a log file: not spawned"))
	line("        self._wod_runtime = _wod_runtime_dir(name)")
	line("        path = _wod_os.path.join(_WOD_SERVER_LOGS, name + %s)", pyStr(".log"))
	line("        try:")
	line("            if _wod_os.lstat(path).st_size > %d:", serverLogKeep)
	line("                _wod_os.replace(path, path + %s)", pyStr(".1"))
	line("        except FileNotFoundError:")
	line("            pass")
	line("        fd = _wod_os.open(path, _wod_os.O_WRONLY | _wod_os.O_CREAT | _wod_os.O_APPEND | _wod_os.O_NOFOLLOW | _wod_os.O_CLOEXEC, 0o600)")
	line("        kept = self.popen_kwargs")
	line("        self.popen_kwargs = dict(kept, stdin=_wod_subprocess.DEVNULL, stdout=fd, stderr=fd)")
	line("        try:")
	line("            return await super().start()")
	line("        finally:")
	line("            self.popen_kwargs = kept")
	line("            _wod_os.close(fd)")
	line("")
	if len(h.CgroupDirs) == 0 {
		line("c.JupyterHub.spawner_class = WodSpawner")
		return
	}
	line("# Each student's server runs in the student's cgroup (memory, CPU and task")
	line("# limits that the agent set at create): the child joins it after fork, as root,")
	line("# before dropping to the student's uid. No group, no server (fail closed).")
	line("_WOD_CGROUP_DIRS = %s", pyStrList(h.CgroupDirs))
	line("")
	line("class WodCgroupSpawner(WodSpawner):")
	line("    def make_preexec_fn(self, name):")
	line("        if not _wod_re.fullmatch(_WOD_NAME, name):")
	line("            raise RuntimeError(%s %% (name,))", pyStr("wod: %r cannot name a cgroup: not spawned"))
	line("        drop_privileges = super().make_preexec_fn(name)")
	line("        procs = [_wod_os.path.join(d, name, %s) for d in _WOD_CGROUP_DIRS]", pyStr("cgroup.procs"))
	line("        for p in procs:")
	line("            if not _wod_os.path.exists(p):")
	line("                raise RuntimeError(%s %% (name, p))",
		pyStr("wod: the cgroup of %s (%s) does not exist: the agent makes it when it prepares the seat; not spawned without limits"))
	line("")
	line("        def preexec():")
	line("            # After fork: only system calls, no allocation worth mentioning.")
	line("            pid = str(_wod_os.getpid()).encode()")
	line("            for p in procs:")
	line("                fd = _wod_os.open(p, _wod_os.O_WRONLY)")
	line("                try:")
	line("                    _wod_os.write(fd, pid)")
	line("                finally:")
	line("                    _wod_os.close(fd)")
	line("            drop_privileges()")
	line("")
	line("        return preexec")
	line("")
	line("c.JupyterHub.spawner_class = WodCgroupSpawner")
}

// validCgroupDirs checks the directories the spawner writes into.
func validCgroupDirs(dirs []string) error {
	for _, d := range dirs {
		if len(d) == 0 || d[0] != '/' {
			return fmt.Errorf("jupyterhub: cgroup directory %q is not absolute", d)
		}
	}
	return nil
}
