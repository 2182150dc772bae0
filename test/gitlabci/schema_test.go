package gitlabci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v4"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// GitLab's own CI schema (app/assets/javascripts/editor/schema/ci.json, the
// one the pipeline editor validates with), as gitlab-ci-local bundles it into
// dist/index.js. Unlike gitlab-ci-local at run time, these tests use it as
// GitLab publishes it, with one documented exception (schemaPatches).
//
// These tests need only the installed gitlab-ci-local package, not a run of
// it: they are skipped when it is missing, unless ASTRO_CI_RUNNER_TESTS=1.

// schemaPatches are the places where ci.json is stricter than GitLab itself,
// each with the evidence. Everything else is validated as published.
var schemaPatches = []struct {
	pointer []string // the keyword to delete
	why     string
}{
	{
		pointer: []string{"definitions", "tags", "minItems"},
		why: "ci.json asks for at least one tag, GitLab accepts an empty list: its Tags entry only " +
			"validates array_of_strings and a maximum of 50 (gitlab-org/gitlab lib/gitlab/ci/config/entry/tags.rb), " +
			"and tags: [] is the usual default of a tags input in published components",
	},
}

// ignoreSchemaPaths are gitlab-ci-local's arguments that skip the same
// rules: it validates every pipeline with ci.json too.
func ignoreSchemaPaths() []string {
	var args []string
	for _, p := range schemaPatches {
		args = append(args, "--ignore-schema-paths", "#/"+strings.Join(p.pointer, "/"))
	}
	return args
}

func bundlePath() string {
	if gcl := os.Getenv("GITLAB_CI_LOCAL"); gcl != "" {
		if p, err := filepath.EvalSymlinks(gcl); err == nil {
			return filepath.Join(filepath.Dir(p), "index.js")
		}
	}
	return filepath.Join(repoRoot, ".cache", "node", "node_modules", "gitlab-ci-local", "dist", "index.js")
}

var ciVariable = regexp.MustCompile(`^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$`)

var gitlabSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	src, err := os.ReadFile(bundlePath())
	if err != nil {
		return nil, err
	}
	doc, err := bundledCISchema(src)
	if err != nil {
		return nil, err
	}
	for _, p := range schemaPatches {
		if err := deletePointer(doc, p.pointer); err != nil {
			return nil, fmt.Errorf("schema patch %s: %w (has ci.json changed? re-check the evidence: %s)", strings.Join(p.pointer, "/"), err, p.why)
		}
	}
	c := jsonschema.NewCompiler()
	// draft-07 asserts formats. environment:url is "format: uri" and also
	// "pattern: ^(https?://.+|\$[A-Za-z]+)": the schema itself admits a CI/CD
	// variable there, which GitLab expands before it uses the URL (its docs
	// show url: $DYNAMIC_ENVIRONMENT_URL from a dotenv report). So a uri is an
	// absolute URI or a variable.
	c.RegisterFormat(&jsonschema.Format{Name: "uri", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok || ciVariable.MatchString(s) {
			return nil
		}
		if u, err := url.Parse(s); err != nil || !u.IsAbs() {
			return fmt.Errorf("not an absolute URI or a CI/CD variable")
		}
		return nil
	}})
	if err := c.AddResource("ci.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("ci.json")
})

// needSchema returns the schema, skipping when gitlab-ci-local is not
// installed (unless the runner tests are on).
func needSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	if _, err := os.Stat(bundlePath()); err != nil {
		if os.Getenv("ASTRO_CI_RUNNER_TESTS") == "1" {
			t.Fatalf("GitLab's CI schema comes from gitlab-ci-local's bundle %s: %v (run scripts/tools.sh runners)", bundlePath(), err)
		}
		t.Skipf("no gitlab-ci-local at %s (scripts/tools.sh runners installs it)", bundlePath())
	}
	s, err := gitlabSchema()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bundledCISchema finds ci.json in the bundle — an object literal that starts
// with its $schema and $id — and turns the JavaScript into JSON.
func bundledCISchema(bundle []byte) (any, error) {
	const marker = `{$schema:"http://json-schema.org/draft-07/schema#",$id:"https://gitlab.com/.gitlab-ci.yml"`
	i := bytes.Index(bundle, []byte(marker))
	if i < 0 {
		return nil, fmt.Errorf("no GitLab CI schema (%s…) in the gitlab-ci-local bundle", marker[:40])
	}
	if bytes.Contains(bundle[i+1:], []byte(marker)) {
		return nil, fmt.Errorf("two GitLab CI schemas in the gitlab-ci-local bundle")
	}
	js, _, err := jsLiteralToJSON(bundle[i:])
	if err != nil {
		return nil, fmt.Errorf("the bundled GitLab CI schema: %w", err)
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(js))
}

// jsLiteralToJSON converts the JavaScript object literal at the start of src
// — what a bundler makes of an imported JSON file: unquoted keys, !0 and !1
// for true and false — to JSON. It returns the JSON and the bytes consumed.
func jsLiteralToJSON(src []byte) ([]byte, int, error) {
	var out bytes.Buffer
	depth := 0
	expectKey := false // just after { or a comma inside an object
	var stack []byte
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '{' || c == '[':
			stack = append(stack, c)
			depth++
			expectKey = c == '{'
			out.WriteByte(c)
			i++
			continue
		case c == '}' || c == ']':
			if depth == 0 {
				return nil, i, fmt.Errorf("unbalanced %q at %d", c, i)
			}
			stack = stack[:len(stack)-1]
			depth--
			out.WriteByte(c)
			i++
			if depth == 0 {
				return out.Bytes(), i, nil
			}
			expectKey = false
			continue
		case c == ',':
			out.WriteByte(c)
			i++
			expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
			continue
		case c == ':':
			out.WriteByte(c)
			i++
			expectKey = false
			continue
		case c == '"' || c == '\'':
			s, n, err := jsString(src[i:])
			if err != nil {
				return nil, i, err
			}
			b, _ := json.Marshal(s)
			out.Write(b)
			i += n
			expectKey = false
			continue
		case c == '!' && i+1 < len(src) && (src[i+1] == '0' || src[i+1] == '1'):
			out.WriteString(map[byte]string{'0': "true", '1': "false"}[src[i+1]])
			i += 2
			continue
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
			continue
		}
		j := i
		for j < len(src) && (isIdent(src[j]) || src[j] == '.' || src[j] == '+' || src[j] == '-') {
			j++
		}
		if j == i {
			return nil, i, fmt.Errorf("unexpected %q at %d", c, i)
		}
		word := string(src[i:j])
		switch {
		case expectKey:
			b, _ := json.Marshal(word)
			out.Write(b)
		case word == "true" || word == "false" || word == "null":
			out.WriteString(word)
		default:
			var n json.Number
			if err := json.Unmarshal([]byte(word), &n); err != nil {
				return nil, i, fmt.Errorf("unexpected value %q at %d", word, i)
			}
			out.WriteString(word)
		}
		i = j
	}
	return nil, i, fmt.Errorf("the literal does not end")
}

func isIdent(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// jsString decodes the JavaScript string literal at the start of src.
func jsString(src []byte) (string, int, error) {
	q := src[0]
	var b strings.Builder
	for i := 1; i < len(src); i++ {
		c := src[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\n':
			return "", i, fmt.Errorf("newline in a string literal")
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(src) {
			break
		}
		switch e := src[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0':
			b.WriteByte(0)
		case 'x', 'u':
			n := 2
			if e == 'u' {
				n = 4
			}
			if e == 'u' && i+1 < len(src) && src[i+1] == '{' {
				end := bytes.IndexByte(src[i:], '}')
				if end < 0 {
					return "", i, fmt.Errorf("bad \\u{} escape")
				}
				var r rune
				if _, err := fmt.Sscanf(string(src[i+2:i+end]), "%x", &r); err != nil {
					return "", i, fmt.Errorf("bad \\u{} escape: %w", err)
				}
				b.WriteRune(r)
				i += end
				continue
			}
			if i+n >= len(src) {
				return "", i, fmt.Errorf("short \\%c escape", e)
			}
			var r rune
			if _, err := fmt.Sscanf(string(src[i+1:i+1+n]), "%x", &r); err != nil {
				return "", i, fmt.Errorf("bad \\%c escape: %w", e, err)
			}
			b.WriteRune(r)
			i += n
		case '\n':
			// a line continuation
		default:
			b.WriteByte(e)
		}
	}
	return "", len(src), fmt.Errorf("unterminated string literal")
}

func deletePointer(doc any, ptr []string) error {
	for i, k := range ptr {
		m, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", strings.Join(ptr[:i], "/"))
		}
		if i == len(ptr)-1 {
			if _, ok := m[k]; !ok {
				return fmt.Errorf("%s does not exist", strings.Join(ptr, "/"))
			}
			delete(m, k)
			return nil
		}
		doc = m[k]
	}
	return nil
}

func TestJSLiteralToJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{a:1,"b-c":"x\"y",d:[!0,!1,null,-2.5e3],e:{f:'it\'s \x41\u00e9'}}rest`, `{"a":1,"b-c":"x\"y","d":[true,false,null,-2.5e3],"e":{"f":"it's Aé"}}`},
		{`{$schema:"a{b}c",x:[{},[]]}`, `{"$schema":"a{b}c","x":[{},[]]}`},
		{`{pattern:"^\\d+$"}`, `{"pattern":"^\\d+$"}`},
	} {
		got, _, err := jsLiteralToJSON([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s:\n got %s, %v\nwant %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{a:1`, `{a:foo}`, `{a:"x`, `}`} {
		if _, _, err := jsLiteralToJSON([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// template is one component: its header document and its body.
type template struct {
	name   string
	spec   map[string]map[string]any // inputs by name (nil: declared as "name:")
	header any
	body   string
}

func loadTemplates(t *testing.T) map[string]template {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "gitlab", "templates", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	out := map[string]template{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		head, body, ok := strings.Cut(string(b), "\n---\n")
		if !ok {
			t.Fatalf("%s: no --- between the spec: header and the body", f)
		}
		tpl := template{name: strings.TrimSuffix(filepath.Base(f), ".yml"), body: body, spec: map[string]map[string]any{}}
		if err := yaml.Unmarshal([]byte(head), &tpl.header); err != nil {
			t.Fatalf("%s header: %v", f, err)
		}
		var h struct {
			Spec struct {
				Inputs map[string]map[string]any `yaml:"inputs"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal([]byte(head), &h); err != nil {
			t.Fatalf("%s header: %v", f, err)
		}
		tpl.spec = h.Spec.Inputs
		out[tpl.name] = tpl
	}
	return out
}

var inputRef = regexp.MustCompile(`\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]`)

// render interpolates the body as GitLab does: after parsing, a value that is
// only $[[ inputs.x ]] takes the input's value with its type (an array stays
// an array); inside other text the value is rendered as text (arrays and maps
// as JSON). Keys are interpolated too. Given values override the defaults; an
// input without a default must be given.
func (tpl template) render(given map[string]any) (any, error) {
	values := map[string]any{}
	for name, def := range tpl.spec {
		if v, ok := def["default"]; ok {
			values[name] = v
		}
	}
	for name, v := range given {
		if _, ok := tpl.spec[name]; !ok {
			return nil, fmt.Errorf("input %s is not declared by %s", name, tpl.name)
		}
		values[name] = v
	}
	for name := range tpl.spec {
		if _, ok := values[name]; !ok {
			return nil, fmt.Errorf("input %s of %s has no default and is not given", name, tpl.name)
		}
	}
	var body any
	if err := yaml.Unmarshal([]byte(tpl.body), &body); err != nil {
		return nil, err
	}
	var err error
	text := func(s string) string {
		return inputRef.ReplaceAllStringFunc(s, func(ref string) string {
			v, ok := values[inputRef.FindStringSubmatch(ref)[1]]
			if !ok {
				err = fmt.Errorf("%s: unknown input", ref)
				return ref
			}
			switch v := v.(type) {
			case string:
				return v
			case []any, map[string]any:
				b, _ := json.Marshal(v)
				return string(b)
			default:
				return fmt.Sprint(v)
			}
		})
	}
	var walk func(any) any
	walk = func(n any) any {
		switch n := n.(type) {
		case map[string]any:
			m := make(map[string]any, len(n))
			for k, v := range n {
				m[text(k)] = walk(v)
			}
			return m
		case []any:
			for i := range n {
				n[i] = walk(n[i])
			}
			return n
		case string:
			if m := inputRef.FindStringSubmatch(strings.TrimSpace(n)); m != nil && m[0] == strings.TrimSpace(n) {
				v, ok := values[m[1]]
				if !ok {
					err = fmt.Errorf("%s: unknown input", m[0])
				}
				return v
			}
			return text(n)
		}
		return n
	}
	out := walk(body)
	return out, err
}

// asJSON turns a YAML-decoded value into the JSON value the schema sees.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func schemaErrors(s *jsonschema.Schema, doc any) string {
	err := s.Validate(doc)
	if err == nil {
		return ""
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err.Error()
	}
	// The leaves of the error tree, one line per place in the document
	// (oneOf and anyOf give several leaves for one place).
	p := message.NewPrinter(language.English)
	byPlace := map[string][]string{}
	var leaves func(e *jsonschema.ValidationError)
	leaves = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			at := "/" + strings.Join(e.InstanceLocation, "/")
			byPlace[at] = append(byPlace[at], e.ErrorKind.LocalizedString(p))
		}
		for _, c := range e.Causes {
			leaves(c)
		}
	}
	leaves(ve)
	var lines []string
	for at, kinds := range byPlace {
		sort.Strings(kinds)
		lines = append(lines, "  at "+at+": "+strings.Join(slicesCompact(kinds), "; or "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func slicesCompact(s []string) []string {
	var out []string
	for i, l := range s {
		if i == 0 || l != s[i-1] {
			out = append(out, l)
		}
	}
	return out
}

// requiredForRendering are values for the inputs that have no default, to
// render a template on its own.
var requiredForRendering = map[string]map[string]any{
	"preview": {"base-deployment": "production"},
}

// Every template's header (its spec:inputs) and body, the body rendered with
// the defaults, are valid against GitLab's CI schema.
func TestTemplatesMatchGitLabSchema(t *testing.T) {
	t.Parallel()
	s := needSchema(t)
	for name, tpl := range loadTemplates(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if errs := schemaErrors(s, asJSON(t, tpl.header)); errs != "" {
				t.Errorf("templates/%s.yml header does not match GitLab's schema:\n%s", name, errs)
			}
			body, err := tpl.render(requiredForRendering[name])
			if err != nil {
				t.Fatalf("templates/%s.yml: %v", name, err)
			}
			if errs := schemaErrors(s, asJSON(t, body)); errs != "" {
				t.Errorf("templates/%s.yml body, rendered with its defaults, does not match GitLab's schema:\n%s", name, errs)
			}
		})
	}
}

// Every example pipeline, and the catalog project's own pipeline, is valid
// against GitLab's CI schema, and so is each component it includes, rendered
// with the inputs it gives.
func TestExamplesMatchGitLabSchema(t *testing.T) {
	t.Parallel()
	s := needSchema(t)
	tpls := loadTemplates(t)
	files, err := filepath.Glob(filepath.Join(repoRoot, "docs", "examples", "gitlab", "*.gitlab-ci.yml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	files = append(files, filepath.Join(repoRoot, "gitlab", ".gitlab-ci.yml"))
	componentName := regexp.MustCompile(`/([a-z-]+)@[^/]+$`)
	for _, f := range files {
		rel, _ := filepath.Rel(repoRoot, f)
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if errs := schemaErrors(s, asJSON(t, doc)); errs != "" {
				t.Errorf("%s does not match GitLab's schema:\n%s", rel, errs)
			}
			includes, _ := doc["include"].([]any)
			n := 0
			for _, inc := range includes {
				m, _ := inc.(map[string]any)
				c, _ := m["component"].(string)
				match := componentName.FindStringSubmatch(c)
				if match == nil {
					continue
				}
				n++
				tpl, ok := tpls[match[1]]
				if !ok {
					t.Errorf("%s includes component %s, which gitlab/templates does not have", rel, match[1])
					continue
				}
				given, _ := m["inputs"].(map[string]any)
				body, err := tpl.render(given)
				if err != nil {
					t.Errorf("%s, component %s: %v", rel, match[1], err)
					continue
				}
				if errs := schemaErrors(s, asJSON(t, body)); errs != "" {
					t.Errorf("%s: component %s rendered with its inputs does not match GitLab's schema:\n%s", rel, match[1], errs)
				}
			}
			if n == 0 {
				t.Errorf("%s includes no component", rel)
			}
		})
	}
}

// The schema check bites: what GitLab refuses, it refuses.
func TestGitLabSchemaRefuses(t *testing.T) {
	t.Parallel()
	s := needSchema(t)
	for _, tc := range []struct{ name, doc, want string }{
		{"an input with a default but no type", "spec:\n  inputs:\n    grace:\n      default: 1h\n", "/spec/inputs/grace"},
		{"a string default for a number input", "spec:\n  inputs:\n    days:\n      type: number\n      default: \"30\"\n", "/spec/inputs/days"},
		{"an unknown header key", "spec:\n  inputs: {}\n  outputs: {}\n", "/spec"},
		{"a job keyword misspelt", "job:\n  script: [x]\n  allow_failur: true\n", "/job"},
		{"a bad when", "job:\n  script: [x]\n  when: sometimes\n", "/job"},
		{"a string for rules", "job:\n  script: [x]\n  rules: \"$[[ inputs.rules ]]\"\n", "/job"},
		{"a string for allow_failure", "job:\n  script: [x]\n  allow_failure: \"maybe\"\n", "/job"},
		{"a string for needs", "job:\n  script: [x]\n  needs: build\n", "/job"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var doc any
			if err := yaml.Unmarshal([]byte(tc.doc), &doc); err != nil {
				t.Fatal(err)
			}
			errs := schemaErrors(s, asJSON(t, doc))
			if !strings.Contains(errs, "at "+tc.want) {
				t.Errorf("want an error at %s, got %q", tc.want, errs)
			}
		})
	}
}

// The README's input tables show the regex each template checks.
func TestREADMERegexesAreTheTemplates(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "gitlab", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tpls := loadTemplates(t)
	row := regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| string `(\\^[^`]*)`")
	section := regexp.MustCompile(`(?m)^### (rotate|preview|check)$`)
	idx := section.FindAllSubmatchIndex(readme, -1)
	found := 0
	for i, m := range idx {
		end := len(readme)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		name := string(readme[m[2]:m[3]])
		for _, r := range row.FindAllSubmatch(readme[m[1]:end], -1) {
			found++
			// A | inside a table cell is written \| (GitHub splits cells on it).
			input, doc := string(r[1]), strings.ReplaceAll(string(r[2]), `\|`, "|")
			def, ok := tpls[name].spec[input]
			if !ok {
				t.Errorf("README, %s: input %s is not declared", name, input)
				continue
			}
			if got, _ := def["regex"].(string); got != doc {
				t.Errorf("README, %s: input %s documented as %s, the template checks %q", name, input, doc, got)
			}
		}
	}
	if found == 0 {
		t.Error("no documented regex found in the README's input tables")
	}
}

// jobsOf renders a template and returns its jobs by name.
func jobsOf(t *testing.T, tpl template, given map[string]any) map[string]map[string]any {
	t.Helper()
	body, err := tpl.render(given)
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]map[string]any{}
	for name, v := range body.(map[string]any) {
		if m, ok := v.(map[string]any); ok {
			jobs[name] = m
		}
	}
	return jobs
}

// GitLab's rule for resource group keys (Ci::ResourceGroup validates the key
// with Gitlab::Regex.environment_name_regex, at most 255 characters).
var resourceGroupKey = regexp.MustCompile(`^[a-zA-Z0-9_${}. -]([a-zA-Z0-9_/${}. -]*[a-zA-Z0-9_${}. -])?$`)

// The rotate job's resource group is per token: rotations of different
// tokens do not wait for each other, rotations of one token do; every key
// that the inputs' regexes allow is one GitLab accepts.
func TestRotateResourceGroupPerToken(t *testing.T) {
	t.Parallel()
	tpl := loadTemplates(t)["rotate"]
	group := func(given map[string]any) string {
		t.Helper()
		g, _ := jobsOf(t, tpl, given)["astro-ci-rotate"]["resource_group"].(string)
		return g
	}
	self, byName, byID := group(nil), group(map[string]any{"token-name": "deploy-bot"}), group(map[string]any{"token-id": "clxyz0123"})
	if self == byName || self == byID || byName == byID {
		t.Errorf("one resource group for different tokens: self %q, deploy-bot %q, clxyz0123 %q", self, byName, byID)
	}
	longest := strings.Repeat("a", 170)
	nameRE := regexp.MustCompile(tpl.spec["token-name"]["regex"].(string))
	idRE := regexp.MustCompile(tpl.spec["token-id"]["regex"].(string))
	if !nameRE.MatchString(longest) || nameRE.MatchString(longest+"a") || !idRE.MatchString(strings.Repeat("a", 64)) {
		t.Fatalf("token-name and token-id regexes changed: re-check the longest key")
	}
	for _, g := range []string{self, byName, byID, group(map[string]any{"token-name": longest}),
		group(map[string]any{"token-name": "a b.c_d-e"})} {
		if len(g) > 255 || !resourceGroupKey.MatchString(g) {
			t.Errorf("resource group %q is not a key GitLab accepts", g)
		}
	}
	for _, bad := range []string{" deploy-bot", "deploy-bot ", "deploy/bot", "deploy:bot", "déploy"} {
		if nameRE.MatchString(bad) {
			t.Errorf("token-name regex accepts %q, which would make an invalid resource group", bad)
		}
	}
}

// tags, needs and allow-failure reach the jobs. The preview's stop job takes
// the tags but never needs anything (a preview can always be deleted) and
// stays allowed to fail (a manual stop job must be).
func TestJobKeywordInputs(t *testing.T) {
	t.Parallel()
	tpls := loadTemplates(t)
	given := map[string]any{"tags": []any{"astro"}, "needs": []any{"build"}, "allow-failure": true}
	for name, jobs := range map[string][]string{"rotate": {"astro-ci-rotate"}, "check": {"astro-ci-check"}, "preview": {"astro-ci-preview"}} {
		in := map[string]any{}
		for k, v := range given {
			in[k] = v
		}
		for k, v := range requiredForRendering[name] {
			in[k] = v
		}
		rendered := jobsOf(t, tpls[name], in)
		defaults := jobsOf(t, tpls[name], requiredForRendering[name])
		for _, job := range jobs {
			j, d := rendered[job], defaults[job]
			if fmt.Sprint(j["tags"]) != "[astro]" || fmt.Sprint(j["needs"]) != "[build]" || j["allow_failure"] != true {
				t.Errorf("%s: tags %v, needs %v, allow_failure %v; want the inputs", job, j["tags"], j["needs"], j["allow_failure"])
			}
			if fmt.Sprint(d["tags"]) != "[]" || fmt.Sprint(d["needs"]) != "[]" || d["allow_failure"] != false {
				t.Errorf("%s by default: tags %v, needs %v, allow_failure %v; want [], [] and false", job, d["tags"], d["needs"], d["allow_failure"])
			}
		}
	}
	stop := jobsOf(t, tpls["preview"], map[string]any{"base-deployment": "production", "tags": []any{"astro"}, "needs": []any{"build"}})["astro-ci-preview-stop"]
	rules, _ := stop["rules"].([]any)
	if fmt.Sprint(stop["tags"]) != "[astro]" || fmt.Sprint(stop["needs"]) != "[]" || len(rules) != 1 || rules[0].(map[string]any)["allow_failure"] != true {
		t.Errorf("stop job: tags %v, needs %v, rules %v", stop["tags"], stop["needs"], stop["rules"])
	}
}

// The rotate job hands its grace to astro-ci only with overlap: an in-place
// rotate has no grace, and astro-ci refuses one, so the component's default
// must not break strategy: rotate; a grace given on purpose with rotate is
// an error. The job's script runs with sh, as in the image, against a
// stand-in astro-ci that prints what it got.
func TestRotateGraceOnlyWithOverlap(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	tpl := loadTemplates(t)["rotate"]
	if got := tpl.spec["grace"]["default"]; got != "1h" {
		t.Fatalf("grace defaults to %v: the job's script compares with 1h", got)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "astro-ci"), []byte("#!/bin/sh\necho \"astro-ci $* grace=[${ASTRO_CI_GRACE-unset}] strategy=[$ASTRO_CI_STRATEGY]\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		given   map[string]any
		project map[string]string // CI/CD variables of the project
		code    int
		want    string
	}{
		{"overlap takes the default grace", nil, nil, 0, "astro-ci token rotate grace=[1h] strategy=[overlap]"},
		{"overlap with grace 0", map[string]any{"grace": "0"}, nil, 0, "grace=[0] strategy=[overlap]"},
		{"a CI/CD variable wins", map[string]any{"grace": "2h"}, map[string]string{"ASTRO_CI_GRACE": "3d"}, 0, "grace=[3d] strategy=[overlap]"},
		{"rotate with the default: no grace", map[string]any{"strategy": "rotate"}, nil, 0, "astro-ci token rotate grace=[unset] strategy=[rotate]"},
		{"rotate with no grace", map[string]any{"strategy": "rotate", "grace": ""}, nil, 0, "grace=[unset] strategy=[rotate]"},
		{"rotate with a grace on purpose", map[string]any{"strategy": "rotate", "grace": "2h"}, nil, 2, "grace (2h) is for strategy overlap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job := jobsOf(t, tpl, tc.given)["astro-ci-rotate"]
			env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
			vars, _ := job["variables"].(map[string]any)
			for k, v := range vars {
				env = append(env, fmt.Sprintf("%s=%v", k, v))
			}
			for k, v := range tc.project {
				env = append(env, k+"="+v)
			}
			var script []string
			for _, line := range job["script"].([]any) {
				if strings.Contains(line.(string), "$[[") {
					t.Fatalf("an input in the script: %q", line)
				}
				script = append(script, line.(string))
			}
			cmd := exec.Command(sh, "-e", "-c", strings.Join(script, "\n"))
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %d, want %d and %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
}
