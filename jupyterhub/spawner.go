package jupyterhub

import "fmt"

// renderSpawner writes the spawner of the configuration.
//
// Every student's server writes its output (and its kernels' and
// terminals') to its own file in the hub's directory, not to the hub's
// output: a server outlives a restart of the hub and of wod (KeepServers),
// and one still writing to the pipe of the process that started it gets
// EPIPE, so its next kernels died at their first output. The file is
// opened by root in a directory only root reaches; the student's processes
// hold only the descriptor. logCap keeps it bounded.
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
	line("import os as _wod_os, re as _wod_re, subprocess as _wod_subprocess")
	line("from jupyterhub.spawner import LocalProcessSpawner")
	line("")
	line("_WOD_NAME = %s", pyStr(`[a-z_][a-z0-9_-]{0,31}`))
	line("_WOD_SERVER_LOGS = %s", pyStr(h.ServerLogDir))
	line("")
	line("class WodSpawner(LocalProcessSpawner):")
	line("    async def start(self):")
	line("        name = self.user.name")
	line("        if not _wod_re.fullmatch(_WOD_NAME, name):")
	line("            raise RuntimeError(%s %% (name,))", pyStr("wod: %r cannot name a log file: not spawned"))
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
