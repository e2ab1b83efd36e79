package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/engine"
)

type registrationRequest struct {
	Workshop string `json:"workshop" maxLength:"100" doc:"Slug of the workshop, e.g. WKSHP-API101"`
	Name     string `json:"name" maxLength:"200" doc:"Full name"`
	Email    string `json:"email" maxLength:"254" doc:"Address the credentials are sent to"`
	Company  string `json:"company,omitempty" maxLength:"200"`
	Wait     bool   `json:"wait,omitempty" doc:"When the workshop is full, join its waiting line (202, state waiting) instead of being refused with full"`
}

type registrationCreated struct {
	ID        int64                 `json:"id"`
	State     wod.RegistrationState `json:"state"`
	Workshop  string                `json:"workshop"`
	StatusURL string                `json:"status_url" doc:"Signed link to the participant's status"`
	// The waiting line, while waiting.
	Place       int        `json:"place,omitempty" doc:"While waiting: the place in the workshop's waiting line (1: next)"`
	EstimatedAt *time.Time `json:"estimated_at,omitempty" doc:"While waiting: when a seat is expected (from the running sessions' ends and the measured cleanup time); absent when unknown"`
}

// registrationCreatedOutput is 201 for a booked seat, 202 for a place in
// the waiting line.
type registrationCreatedOutput struct {
	Status int
	Body   registrationCreated
}

// created describes a registration to the participant, with their place
// in the line while they wait.
func (s *Server) created(ctx context.Context, r *wod.Registration) (registrationCreated, error) {
	c := registrationCreated{ID: r.ID, State: r.State, Workshop: r.Workshop, StatusURL: s.statusURL(r.ID), Place: r.Place}
	if r.State == wod.StateWaiting {
		at, ok, err := s.Registrations.WaitEstimate(ctx, r)
		if err != nil {
			return c, err
		}
		if ok {
			c.EstimatedAt = &at
		}
	}
	return c, nil
}

// registrationView is an operator's view of a registration.
type registrationView struct {
	*wod.Registration
	Seat      *seatRef `json:"seat,omitempty"`
	LoginURL  string   `json:"login_url,omitempty" doc:"The hub's login page"`
	Password  string   `json:"password,omitempty" doc:"The student password, only while the registration is live"`
	StatusURL string   `json:"status_url"`
}

type seatRef struct {
	Number    int    `json:"number"`
	StudentID int    `json:"student_id"`
	Username  string `json:"username"`
}

// statusView is what a participant sees through their signed link.
type statusView struct {
	ID          int64                 `json:"id"`
	State       wod.RegistrationState `json:"state"`
	Workshop    string                `json:"workshop"`
	Title       string                `json:"title"`
	CreatedAt   time.Time             `json:"created_at"`
	ReadyAt     *time.Time            `json:"ready_at,omitempty"`
	EndsAt      *time.Time            `json:"ends_at,omitempty"`
	Completion  *int                  `json:"completion,omitempty"`
	Place       int                   `json:"place,omitempty" doc:"While waiting: the place in the waiting line (1: next)"`
	EstimatedAt *time.Time            `json:"estimated_at,omitempty" doc:"While waiting: when a seat is expected; absent when unknown"`
	Username    string                `json:"username,omitempty"`
	Password    string                `json:"password,omitempty"`
	LoginURL    string                `json:"login_url,omitempty"`
	// ExtendBy is what the participant may add now with the extend route.
	ExtendBy     wod.Duration `json:"extend_by,omitempty" doc:"While running: the time the participant may add with POST .../extend (once, while nobody waits for a seat); absent when they may not"`
	SelfExtended bool         `json:"self_extended,omitempty" doc:"The participant added time already (once is all)"`
}

// resendLinkPath is the lost-link route, offered with already_registered.
const resendLinkPath = APIPrefix + "/registrations/resend-link"

func (s *Server) statusURL(id int64) string {
	return s.PublicURL + "/status/" + s.Keys.StatusToken(id)
}

// view is the operator's view of a registration, with its credentials.
func (s *Server) view(ctx context.Context, r *wod.Registration) (*registrationView, error) {
	c, err := engine.Credentials(ctx, s.Locations, s.Keys, r)
	if err != nil {
		return nil, err
	}
	v := &registrationView{Registration: r, LoginURL: c.LoginURL, Password: c.Password, StatusURL: s.statusURL(r.ID)}
	if r.SeatID != nil {
		v.Seat = &seatRef{Number: r.StudentNumber, StudentID: c.StudentID, Username: c.Username}
	}
	return v, nil
}

// registrationBody answers an operator's request with the registration as
// it now stands.
func (s *Server) registrationBody(ctx context.Context, id int64) (*body[*registrationView], error) {
	r, err := s.Registrations.FindRegistration(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := s.view(ctx, r)
	if err != nil {
		return nil, err
	}
	return &body[*registrationView]{v}, nil
}

func (s *Server) registerRegistrations() {
	tags := []string{"Registrations"}
	register(s, huma.Operation{OperationID: "create-registration", Method: http.MethodPost, Path: APIPrefix + "/registrations",
		Summary: "Register for a workshop", Tags: tags, DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests},
		Description: "Books a seat at once (201). 409 with code `already_registered` when the address has a workshop " +
			"running (or waits for one), with `resend_link`, the route that sends its status link again to that address (`ends_at`, " +
			"when it ends, only to operators), or `full` when no seat is left (with `can_wait`: the same request with " +
			"`\"wait\": true` joins the workshop's waiting line and answers 202 with state `waiting`, the `place` in line " +
			"and the `estimated_at` time of a seat; the first in line gets the next seat that frees, and their credentials " +
			"by mail); 422 with per-field errors for a bad " +
			"or disposable address or an unknown workshop; 429 when the client registers too often (operators, " +
			"with a token or a session, are not limited)."},
		"", s.createRegistration)
	register(s, huma.Operation{OperationID: "get-status", Method: http.MethodGet, Path: APIPrefix + "/status/{token}",
		Summary: "A participant's status", Tags: tags,
		Description: "What the participant's signed link shows: the state, the clock and, once ready, the credentials."},
		"", s.getStatus)
	register(s, huma.Operation{OperationID: "end-own-registration", Method: http.MethodPost, Path: APIPrefix + "/status/{token}/end",
		Summary: "End my session now", Tags: tags, Description: "The participant's \"end now\", through their signed link."},
		"", s.endOwnRegistration)
	register(s, huma.Operation{OperationID: "extend-own-registration", Method: http.MethodPost, Path: APIPrefix + "/status/{token}/extend",
		Summary: "Add time to my session", Tags: tags, Errors: []int{http.StatusConflict},
		Description: "The participant adds the workshop's `extend` time to their running session, through their signed " +
			"link, and gets their status back; a reminder follows before the new end. Once per registration, and only " +
			"while nobody waits for a seat of the workshop: 409 otherwise (the status's `extend_by` says whether it is offered)."},
		"", s.extendOwnRegistration)
	register(s, huma.Operation{OperationID: "leave-line", Method: http.MethodPost, Path: APIPrefix + "/status/{token}/leave",
		Summary: "Leave the waiting line", Tags: tags, Errors: []int{http.StatusConflict},
		Description: "The participant leaves the workshop's waiting line, through their signed link; 409 when they " +
			"no longer wait (they got a seat meanwhile: end the session instead)."},
		"", s.leaveLine)
	register(s, huma.Operation{OperationID: "resend-link", Method: http.MethodPost, Path: resendLinkPath,
		Summary: "Send my status link again", Tags: tags, DefaultStatus: http.StatusAccepted,
		Errors: []int{http.StatusUnprocessableEntity, http.StatusTooManyRequests},
		Description: "For a participant who lost the mail: if the address holds a running registration, its status " +
			"link (with the credentials once ready) is sent to that address again, at most every ten minutes. " +
			"The answer is the same whether or not it holds one."},
		"", s.resendLink)
	register(s, huma.Operation{OperationID: "end-registration", Method: http.MethodPost,
		Path: APIPrefix + "/registrations/{id}/end", Summary: "End a registration now", Tags: tags,
		Description: "Ends a live registration: its environment is measured and wiped."},
		wod.RoleModerator, s.endRegistration)
	register(s, huma.Operation{OperationID: "resend-registration", Method: http.MethodPost,
		Path: APIPrefix + "/registrations/{id}/resend", Summary: "Resend the credentials", Tags: tags,
		Description: "Queues the credentials mail of a running registration again."},
		wod.RoleModerator, s.resendCredentials)
	register(s, huma.Operation{OperationID: "purge-registration", Method: http.MethodPost,
		Path: APIPrefix + "/registrations/{id}/purge", Summary: "Purge a registration", Tags: tags,
		Description: "Takes the seat back at once, whatever the state: a live registration fails, the seat is wiped and freed."},
		wod.RoleModerator, s.purgeRegistration)
	register(s, huma.Operation{OperationID: "extend-registration", Method: http.MethodPost,
		Path: APIPrefix + "/registrations/{id}/extend", Summary: "Extend a registration", Tags: tags,
		Description: "Gives a running registration more time; its end moves, a new reminder goes before the new end " +
			"(at once when the new end is nearer than the reminder's lead), and the participant is told by mail."},
		wod.RoleModerator, s.extendRegistration)
	register(s, huma.Operation{OperationID: "list-registrations", Method: http.MethodGet, Path: APIPrefix + "/registrations",
		Summary: "List registrations", Tags: tags, Description: "Newest first."},
		wod.RoleModerator, s.listRegistrations)
	register(s, huma.Operation{OperationID: "get-registration", Method: http.MethodGet, Path: APIPrefix + "/registrations/{id}",
		Summary: "Get a registration", Tags: tags,
		Description: "With its seat, student user name, login URL and, while live, the student password."},
		wod.RoleModerator, s.getRegistration)
}

type createRegistrationInput struct{ Body registrationRequest }

// createRegistration books a seat for a participant, or for others when an
// operator calls.
func (s *Server) createRegistration(ctx context.Context, in *createRegistrationInput) (*registrationCreatedOutput, error) {
	ip := ClientIP(ctx)
	// An operator registering for others (bulk enrolment, wod loadtest)
	// is not one participant registering too often.
	if CallerFrom(ctx).Anonymous() {
		if ok, wait := s.limiter.allow(ip); !ok {
			return nil, &wod.Error{Code: wod.ERATELIMITED, RetryAfter: wait,
				Message: "too many registrations from your address; please wait a minute"}
		}
	}
	r, err := s.Registrar.Register(ctx, wod.RegistrationRequest{Workshop: in.Body.Workshop, Name: in.Body.Name,
		Email: in.Body.Email, Company: in.Body.Company, ClientIP: ip, Wait: in.Body.Wait})
	if err != nil {
		return nil, err
	}
	c, err := s.created(ctx, r)
	if err != nil {
		return nil, err
	}
	status := http.StatusCreated
	if r.State == wod.StateWaiting {
		status = http.StatusAccepted
	}
	return &registrationCreatedOutput{Status: status, Body: c}, nil
}

// leaveLine is the participant's "leave the line".
func (s *Server) leaveLine(ctx context.Context, in *statusTokenInput) (*body[registrationCreated], error) {
	id, err := s.registrationID(in)
	if err != nil {
		return nil, err
	}
	r, err := s.Registrar.LeaveLine(ctx, id, "participant")
	if err != nil {
		return nil, err
	}
	c, err := s.created(ctx, r)
	if err != nil {
		return nil, err
	}
	return &body[registrationCreated]{c}, nil
}

// statusTokenInput is a participant's signed status link.
type statusTokenInput struct {
	Token string `path:"token" maxLength:"100"`
}

// registrationID reads the registration a signed status link is for.
func (s *Server) registrationID(in *statusTokenInput) (int64, error) {
	id, ok := s.Keys.ParseStatusToken(in.Token)
	if !ok {
		return 0, notFound("this status link is not valid")
	}
	return id, nil
}

// getStatus shows the participant their registration, with the
// credentials while it runs.
func (s *Server) getStatus(ctx context.Context, in *statusTokenInput) (*body[statusView], error) {
	id, err := s.registrationID(in)
	if err != nil {
		return nil, err
	}
	r, err := s.Registrations.FindRegistration(ctx, id)
	if err != nil {
		return nil, err
	}
	w, err := s.Workshops.FindWorkshop(ctx, r.Workshop)
	if err != nil {
		return nil, err
	}
	v := statusView{ID: r.ID, State: r.State, Workshop: r.Workshop, Title: w.Title, CreatedAt: r.CreatedAt,
		ReadyAt: r.ReadyAt, EndsAt: r.EndsAt, Completion: r.Completion}
	if r.State == wod.StateWaiting {
		c, err := s.created(ctx, r)
		if err != nil {
			return nil, err
		}
		v.Place, v.EstimatedAt = c.Place, c.EstimatedAt
	}
	if r.State.Running() {
		c, err := engine.Credentials(ctx, s.Locations, s.Keys, r)
		if err != nil {
			return nil, err
		}
		v.Username, v.LoginURL, v.Password = c.Username, c.LoginURL, c.Password
		by, err := s.Registrar.SelfExtension(ctx, r)
		if err != nil {
			return nil, err
		}
		v.ExtendBy, v.SelfExtended = wod.Duration(by), r.SelfExtended
	}
	return &body[statusView]{v}, nil
}

// extendOwnRegistration is the participant's one extension.
func (s *Server) extendOwnRegistration(ctx context.Context, in *statusTokenInput) (*body[statusView], error) {
	id, err := s.registrationID(in)
	if err != nil {
		return nil, err
	}
	if _, err := s.Registrar.ExtendSelf(ctx, id); err != nil {
		return nil, err
	}
	return s.getStatus(ctx, in)
}

// endOwnRegistration is the participant's "end now".
func (s *Server) endOwnRegistration(ctx context.Context, in *statusTokenInput) (*body[registrationCreated], error) {
	id, err := s.registrationID(in)
	if err != nil {
		return nil, err
	}
	r, err := s.Registrar.EndNow(ctx, id, "participant")
	if err != nil {
		return nil, err
	}
	return &body[registrationCreated]{registrationCreated{ID: r.ID, State: r.State, Workshop: r.Workshop,
		StatusURL: s.statusURL(r.ID)}}, nil
}

// The bodies keep the schema names they had as closures' inputs (named
// for the operation), which generated clients know them by.
type resendLinkInput struct {
	Body struct {
		Email string `json:"email" maxLength:"254" doc:"The address the registration was made with"`
	} `nameHint:"resend-linkRequest"`
}

// resendLink mails a participant who lost it their status link again.
func (s *Server) resendLink(ctx context.Context, in *resendLinkInput) (*empty, error) {
	if ok, wait := s.limiter.allow(ClientIP(ctx)); !ok {
		return nil, &wod.Error{Code: wod.ERATELIMITED, RetryAfter: wait,
			Message: "too many requests from your address; please wait a minute"}
	}
	return &empty{}, s.Registrar.ResendLink(ctx, in.Body.Email)
}

// endRegistration is an operator's "end now".
func (s *Server) endRegistration(ctx context.Context, in *IDParam) (*body[*registrationView], error) {
	if _, err := s.Registrar.EndNow(ctx, in.ID, CallerFrom(ctx).Name); err != nil {
		return nil, err
	}
	return s.registrationBody(ctx, in.ID)
}

// resendCredentials queues the credentials mail again.
func (s *Server) resendCredentials(ctx context.Context, in *IDParam) (*body[*registrationView], error) {
	if err := s.Registrar.Resend(ctx, in.ID, CallerFrom(ctx).Name); err != nil {
		return nil, err
	}
	return s.registrationBody(ctx, in.ID)
}

// purgeRegistration takes the registration's seat back at once.
func (s *Server) purgeRegistration(ctx context.Context, in *IDParam) (*body[*registrationView], error) {
	if _, err := s.Registrar.Purge(ctx, in.ID, CallerFrom(ctx).Name); err != nil {
		return nil, err
	}
	return s.registrationBody(ctx, in.ID)
}

type extendRegistrationInput struct {
	IDParam
	Body struct {
		By string `json:"by" doc:"How much longer, e.g. \"30m\" or \"1h\"" example:"30m"`
	} `nameHint:"extend-registrationRequest"`
}

// extendRegistration gives a running registration more time.
func (s *Server) extendRegistration(ctx context.Context, in *extendRegistrationInput) (*body[*registrationView], error) {
	by, err := time.ParseDuration(in.Body.By)
	if err != nil {
		return nil, invalid("by", "must be a duration such as 30m or 1h")
	}
	if _, err := s.Registrar.Extend(ctx, in.ID, by, CallerFrom(ctx).Name); err != nil {
		return nil, err
	}
	return s.registrationBody(ctx, in.ID)
}

type listRegistrationsInput struct {
	State    string `query:"state" enum:"waiting,pending,ready,expiring,ending,done,failed,left,"`
	Workshop string `query:"workshop"`
	Email    string `query:"email"`
	Q        string `query:"q" doc:"Search in name, e-mail and company"`
	Paging
}

// listRegistrations lists registrations, newest first, with their
// credentials.
func (s *Server) listRegistrations(ctx context.Context, in *listRegistrationsInput) (*list[*registrationView], error) {
	f := wod.RegistrationFilter{Page: in.page()}
	if in.State != "" {
		st := wod.RegistrationState(in.State)
		f.State = &st
	}
	if in.Workshop != "" {
		f.Workshop = &in.Workshop
	}
	if in.Email != "" {
		e := strings.ToLower(in.Email)
		f.Email = &e
	}
	if in.Q != "" {
		f.Search = &in.Q
	}
	rs, n, err := s.Registrations.FindRegistrations(ctx, f)
	if err != nil {
		return nil, err
	}
	views := make([]*registrationView, 0, len(rs))
	for _, r := range rs {
		v, err := s.view(ctx, r)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return newList(views, n), nil
}

// getRegistration shows one registration to an operator.
func (s *Server) getRegistration(ctx context.Context, in *IDParam) (*body[*registrationView], error) {
	return s.registrationBody(ctx, in.ID)
}
