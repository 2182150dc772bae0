package githubstore

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/astro-ci/astro-ci/internal/secret"
	"github.com/astro-ci/astro-ci/internal/target"
)

// parsePrivateKey reads an RSA key in PEM, PKCS#1 ("RSA PRIVATE KEY", what
// GitHub hands out) or PKCS#8 ("PRIVATE KEY"). Errors never quote the key.
func parsePrivateKey(v secret.Value) (*rsa.PrivateKey, error) {
	data := v.Reveal()
	if !strings.Contains(data, "\n") && strings.Contains(data, `\n`) {
		// A PEM pasted into a single-line variable with literal \n.
		data = strings.ReplaceAll(data, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(strings.TrimSpace(data)))
	if block == nil {
		return nil, errors.New("not a PEM block (expected -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("the RSA PRIVATE KEY block is not a valid PKCS#1 key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("the PRIVATE KEY block is not a valid PKCS#8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("the PKCS#8 key is not an RSA key (GitHub App keys are RSA)")
		}
		return rk, nil
	}
	return nil, errors.New("PEM block of type " + strconv.Quote(block.Type) + " is not an RSA private key")
}

// appJWT is the app's RS256 JWT: issued a minute in the past against clock
// drift, expiring after nine minutes (GitHub allows at most ten).
func (s *Store) appJWT() (secret.Value, error) {
	now := s.now()
	// iss is the numeric app id, or the client id (a string).
	var iss any = s.appID
	if n, err := strconv.ParseInt(s.appID, 10, 64); err == nil {
		iss = n
	}
	claims, err := json.Marshal(map[string]any{
		"iat": now.Add(-60 * time.Second).Unix(),
		"exp": now.Add(9 * time.Minute).Unix(),
		"iss": iss,
	})
	if err != nil {
		return secret.Value{}, err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, s.appKey, crypto.SHA256, digest[:])
	if err != nil {
		return secret.Value{}, errors.New("signing the GitHub App JWT failed")
	}
	return secret.New(signing + "." + enc.EncodeToString(sig)), nil
}

type installationToken struct {
	token   secret.Value
	expires time.Time
	perms   map[string]string // what GitHub granted the token
}

// tokenMargin: an installation token is replaced this long before it
// expires, so no request starts with a token about to die.
const tokenMargin = 5 * time.Minute

// authorize returns ctx carrying the credential for t: the token, or the
// installation token of the app's installation on t's owner.
func (s *Store) authorize(ctx context.Context, t target.Target) (context.Context, error) {
	if s.appKey == nil {
		return withCred(ctx, s.token), nil
	}
	id, err := s.installation(ctx, t)
	if err != nil {
		return ctx, err
	}
	tok, err := s.instTokens.get(ctx, itoa(id),
		func(it installationToken) bool { return s.now().Before(it.expires.Add(-tokenMargin)) },
		func(ctx context.Context) (installationToken, error) {
			jwt, err := s.appJWT()
			if err != nil {
				return installationToken{}, &stepError{step: stepLocal, err: err}
			}
			// An empty options object, not nil: go-github would send the
			// body "null", which the description does not allow.
			it, _, err := s.gh().Apps.CreateInstallationToken(withCred(ctx, jwt), id, &github.InstallationTokenOptions{})
			if err != nil {
				return installationToken{}, &stepError{step: stepToken, subject: owner(t), err: err}
			}
			if it.GetToken() == "" {
				return installationToken{}, &stepError{step: stepToken, subject: owner(t), err: errors.New("GitHub returned an installation token without a value")}
			}
			return installationToken{token: secret.New(it.GetToken()), expires: it.GetExpiresAt().Time, perms: tokenPerms(it.GetPermissions())}, nil
		})
	if err != nil {
		return ctx, err
	}
	return withCred(ctx, tok.token), nil
}

func owner(t target.Target) string {
	if t.Kind == target.KindOrgSecret {
		return t.Org
	}
	return t.Owner
}

// installation finds the app's installation on t's owner (one per owner).
func (s *Store) installation(ctx context.Context, t target.Target) (int64, error) {
	if s.installationID != 0 {
		return s.installationID, nil
	}
	return s.instIDs.get(ctx, strings.ToLower(owner(t)), nil, func(ctx context.Context) (int64, error) {
		jwt, err := s.appJWT()
		if err != nil {
			return 0, &stepError{step: stepLocal, err: err}
		}
		ctx = withCred(ctx, jwt)
		gh := s.gh()
		subject := owner(t)
		var id int64
		if t.Kind == target.KindOrgSecret {
			in, _, err2 := gh.Apps.FindOrganizationInstallation(ctx, t.Org)
			id, err = in.GetID(), err2
		} else {
			subject = t.Owner + "/" + t.Repo
			in, _, err2 := gh.Apps.FindRepositoryInstallation(ctx, t.Owner, t.Repo)
			id, err = in.GetID(), err2
		}
		if err != nil {
			return 0, &stepError{step: stepInstall, subject: subject, err: err}
		}
		if id == 0 {
			return 0, &stepError{step: stepInstall, subject: subject, err: errors.New("GitHub returned an installation without an id")}
		}
		return id, nil
	})
}

// tokenPerms turns go-github's permission struct into name → level.
func tokenPerms(p *github.InstallationPermissions) map[string]string {
	out := map[string]string{}
	if p == nil {
		return out
	}
	b, err := json.Marshal(p)
	if err != nil {
		return out
	}
	_ = json.Unmarshal(b, &out)
	return out
}

// installationPerms are the permissions of the installation token for t's
// owner, when one has been minted.
func (s *Store) installationPerms(t target.Target) (map[string]string, bool) {
	id := s.installationID
	if id == 0 {
		var ok bool
		if id, ok = s.instIDs.peek(strings.ToLower(owner(t))); !ok {
			return nil, false
		}
	}
	it, ok := s.instTokens.peek(itoa(id))
	if !ok {
		return nil, false
	}
	return it.perms, true
}

// forgetToken drops the cached installation token of t's owner after GitHub
// rejected it (revoked, or expired early), so the next attempt mints anew.
func (s *Store) forgetToken(ctx context.Context, t target.Target) {
	id := s.installationID
	if id == 0 {
		var ok bool
		if id, ok = s.instIDs.peek(strings.ToLower(owner(t))); !ok {
			return
		}
	}
	s.instTokens.drop(ctx, itoa(id), func(installationToken) bool { return true })
}
