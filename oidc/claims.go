package oidc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/arbor-auth/arbor/identity"
)

// Which user attribute each standard claim reads, first present wins. The names are
// the directory's (LDAP inetOrgPerson, as AM's identity store and Arbor's user import
// use them).
var (
	nameAttrs       = []string{"cn", "displayName", "name"}
	givenNameAttrs  = []string{"givenName", "given_name"}
	familyNameAttrs = []string{"sn", "familyName", "family_name"}
	emailAttrs      = []string{"mail", "email"}
)

// fillUserinfo sets the claims of scopes from the user's attributes: sub always,
// profile (name, given_name, family_name, preferred_username) and email.
func (s *storage) fillUserinfo(ctx context.Context, ui *zoidc.UserInfo, subject string, scopes []string) error {
	ui.Subject = subject
	if !slices.Contains(scopes, zoidc.ScopeProfile) && !slices.Contains(scopes, zoidc.ScopeEmail) {
		return nil
	}
	u, err := s.users.Get(ctx, s.realm, subject)
	if errors.Is(err, identity.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		mark(ctx, err)
		return fmt.Errorf("oidc: read user for claims: %w", err)
	}
	if slices.Contains(scopes, zoidc.ScopeProfile) {
		ui.PreferredUsername = u.Username
		ui.GivenName = attr(u, givenNameAttrs)
		ui.FamilyName = attr(u, familyNameAttrs)
		ui.Name = attr(u, nameAttrs)
		if ui.Name == "" {
			ui.Name = strings.TrimSpace(ui.GivenName + " " + ui.FamilyName)
		}
	}
	if slices.Contains(scopes, zoidc.ScopeEmail) {
		ui.Email = attr(u, emailAttrs)
	}
	return nil
}

// attr returns the first of names the user has as text (the first of a list).
func attr(u *identity.User, names []string) string {
	for _, n := range names {
		switch v := u.Attributes[n].(type) {
		case string:
			if v != "" {
				return v
			}
		case []any:
			if len(v) > 0 {
				if s, ok := v[0].(string); ok && s != "" {
					return s
				}
			}
		}
	}
	return ""
}
