// Package jupyterhub drives the JupyterHub that serves the students'
// notebooks: a REST client (Client) for users and servers, a managed mode
// (Managed) in which the agent writes the hub's configuration and supervises
// Debian's `jupyterhub` as a child process, and an external mode
// (NewExternal) for a hub the operator runs.
//
// The target is JupyterHub 3.0.0 as Debian bookworm ships it (PAM
// authenticator, LocalProcessSpawner, configurable-http-proxy, classic
// Notebook); the API calls used behave the same on later versions.
//
// # Who may log in to a managed hub
//
// The students log in through the hub's own login form with their Unix
// password (PAM). In JupyterHub 3.0, Authenticator.check_allowed lets any
// name in when allowed_users is empty — any Unix account with a password,
// root included, could log in and get a server running as itself. A fixed
// allowed_users does not fit either: students are created while the hub runs
// and the set is only read from the configuration at start (the API adds a
// user created through it to a non-empty set, but that set is lost and
// rebuilt from the database at each restart, and it stays empty-means-all).
//
// The managed hub therefore sets PAMAuthenticator.allowed_groups to one Unix
// group (DefaultStudentGroup, "wod-students"). LocalAuthenticator in 3.0
// then ignores allowed_users and, at every login, checks the group's member
// list from the group database (grp.getgrnam(...).gr_mem). The agent adds
// each studentN to that group when it creates the account, so a new student
// can log in at once without touching the hub; every other account is
// refused even with the right password. Note that gr_mem lists supplementary
// members only: the group must not be a student's primary group. Start
// creates the group if it is missing.
//
// The agent itself acts as the service "wod-agent" with a random token
// (generated once, stored 0600 in the state directory) and a role with the
// scopes admin:users, admin:servers, tokens, list:users and read:users.
package jupyterhub
