package gitlabfake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// params are the request parameters after Grape-like merging: the query
// string first, then the body. Nested JSON objects are flattened to
// "outer[inner]" keys, the form GitLab's docs use.
type params map[string]string

func (p params) has(k string) bool { _, ok := p[k]; return ok }

// readParams parses the query and a JSON, form-encoded or multipart body.
func readParams(r *http.Request) (params, error) {
	p := params{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			p[k] = vs[len(vs)-1]
		}
	}
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodDelete {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/x-www-form-urlencoded":
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		for k, vs := range q {
			p[k] = vs[len(vs)-1]
		}
	case ct == "multipart/form-data":
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(strings.NewReader(string(body)))
		if err := r2.ParseMultipartForm(1 << 20); err != nil {
			return nil, err
		}
		for k, vs := range r2.MultipartForm.Value {
			p[k] = vs[len(vs)-1]
		}
	default: // JSON, which is what client-go sends
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("invalid JSON body")
		}
		if err := flatten(p, "", m); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func flatten(p params, prefix string, m map[string]any) error {
	for k, v := range m {
		name := k
		if prefix != "" {
			name = prefix + "[" + k + "]"
		}
		switch v := v.(type) {
		case nil:
			// Grape treats an explicit null like an omitted optional
			// parameter for the fields the fake models.
		case string:
			p[name] = v
		case bool:
			p[name] = strconv.FormatBool(v)
		case float64:
			p[name] = strconv.FormatFloat(v, 'f', -1, 64)
		case map[string]any:
			if err := flatten(p, name, v); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is invalid", name)
		}
	}
	return nil
}

// boolParam reads an optional Boolean parameter the way Grape coerces it.
func (p params) boolParam(name string) (val, ok bool, err error) {
	s, present := p[name]
	if !present {
		return false, false, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "t", "yes", "y", "on":
		return true, true, nil
	case "false", "0", "f", "no", "n", "off":
		return false, true, nil
	}
	return false, false, fmt.Errorf("%s is invalid", name)
}

// wireVariable is GitLab's API::Entities::Ci::Variable.
type wireVariable struct {
	VariableType     string  `json:"variable_type"`
	Key              string  `json:"key"`
	Value            *string `json:"value"`
	Hidden           bool    `json:"hidden"`
	Protected        bool    `json:"protected"`
	Masked           bool    `json:"masked"`
	Raw              bool    `json:"raw"`
	EnvironmentScope string  `json:"environment_scope"`
	Description      *string `json:"description"`
}

func toWire(v *variable) wireVariable {
	w := wireVariable{
		VariableType:     v.VariableType,
		Key:              v.Key,
		Hidden:           v.Hidden,
		Protected:        v.Protected,
		Masked:           v.Masked,
		Raw:              v.Raw,
		EnvironmentScope: v.EnvironmentScope,
	}
	if !v.Hidden {
		val := v.Value
		w.Value = &val
	}
	if v.Description != "" {
		d := v.Description
		w.Description = &d
	}
	return w
}

type wireNamespace struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Path     string `json:"path"`
	Kind     string `json:"kind"`
	FullPath string `json:"full_path"`
	ParentID *int   `json:"parent_id"`
	WebURL   string `json:"web_url"`
}

type wireAccess struct {
	AccessLevel       int `json:"access_level"`
	NotificationLevel int `json:"notification_level"`
}

type wireProject struct {
	ID                int           `json:"id"`
	Name              string        `json:"name"`
	NameWithNamespace string        `json:"name_with_namespace"`
	Path              string        `json:"path"`
	PathWithNamespace string        `json:"path_with_namespace"`
	Description       string        `json:"description"`
	DefaultBranch     string        `json:"default_branch"`
	Visibility        string        `json:"visibility"`
	WebURL            string        `json:"web_url"`
	Namespace         wireNamespace `json:"namespace"`
	Permissions       struct {
		ProjectAccess *wireAccess `json:"project_access"`
		GroupAccess   *wireAccess `json:"group_access"`
	} `json:"permissions"`
}

type wireGroup struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Path        string `json:"path"`
	Description string `json:"description"`
	Visibility  string `json:"visibility"`
	WebURL      string `json:"web_url"`
	FullName    string `json:"full_name"`
	FullPath    string `json:"full_path"`
	ParentID    *int   `json:"parent_id"`
}

type wireToken struct {
	ID          int      `json:"id"`
	Name        string   `json:"name"`
	Revoked     bool     `json:"revoked"`
	CreatedAt   string   `json:"created_at"`
	Description string   `json:"description"`
	Scopes      []string `json:"scopes"`
	UserID      int      `json:"user_id"`
	LastUsedAt  *string  `json:"last_used_at"`
	Active      bool     `json:"active"`
	ExpiresAt   string   `json:"expires_at"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

// apiError is GitLab's render_api_error!: {"message": msg}.
func apiError(w http.ResponseWriter, status int, msg any) {
	writeJSON(w, status, map[string]any{"message": msg})
}

// grapeError is a parameter error raised by Grape itself: {"error": msg}.
func grapeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
