// Package emailpolicy decides which e-mail addresses may register: not a
// disposable address, not a deny-listed one. It answers with a message the
// participant can act on, where the original silently answered 200 with an
// empty body.
package emailpolicy

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"
)

//go:embed disposable_domains.txt
var disposableList string

// Policy checks addresses. It is safe for concurrent use once built.
type Policy struct {
	disposable map[string]bool
	deny       []string
	allow      map[string]bool
}

// New builds a policy. deny holds operator entries, each either a domain
// ("example.com", also matching its subdomains), an "@domain" as the
// original's WODDENYLIST writes them, or a whole address. allow lists
// domains to accept even though the disposable list names them.
func New(deny, allow []string) *Policy {
	p := &Policy{disposable: map[string]bool{}, allow: map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(disposableList))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			p.disposable[line] = true
		}
	}
	for _, d := range deny {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			p.deny = append(p.deny, d)
		}
	}
	for _, a := range allow {
		p.allow[strings.ToLower(strings.TrimSpace(a))] = true
	}
	return p
}

// Check returns nil if the address may register, or an error whose text
// can be shown to the participant. addr must already be syntactically valid
// and lower-cased.
func (p *Policy) Check(addr string) error {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return fmt.Errorf("is not a valid e-mail address")
	}
	domain := addr[at+1:]
	for _, d := range p.deny {
		switch {
		case strings.Contains(d, "@") && !strings.HasPrefix(d, "@"):
			if addr == d {
				return fmt.Errorf("cannot be used to register here; please use another address")
			}
		case matchesDomain(domain, strings.TrimPrefix(d, "@")):
			return fmt.Errorf("addresses at %s cannot be used to register here; please use another address", domain)
		}
	}
	if p.allow[domain] {
		return nil
	}
	// The domain or any parent of it ("x.mailinator.com").
	for d := domain; d != ""; {
		if p.disposable[d] {
			return fmt.Errorf("%s is a disposable e-mail service; please use an address you will still read in a few hours", domain)
		}
		_, rest, ok := strings.Cut(d, ".")
		if !ok || !strings.Contains(rest, ".") {
			break
		}
		d = rest
	}
	return nil
}

func matchesDomain(domain, entry string) bool {
	return domain == entry || strings.HasSuffix(domain, "."+entry)
}

// Disposable reports how many disposable domains the policy knows.
func (p *Policy) Disposable() int { return len(p.disposable) }
