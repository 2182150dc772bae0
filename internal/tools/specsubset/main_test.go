package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fixtureYAML covers what the trimming must get right: stripped fields,
// names that look like stripped fields, transitive and discriminator
// references, literal data, path-level parameters, YAML scalars.
const fixtureYAML = `openapi: 3.0.3
info:
  title: Fixture
  version: "1.0"
  description: dropped
  x-logo: dropped
servers:
  - url: https://api.example.com/v1
    description: dropped
security:
  - JWT: []
tags:
  - name: dropped
externalDocs:
  url: https://dropped
x-top: dropped
paths:
  /things/{thingId}:
    summary: dropped
    parameters:
      - name: thingId
        in: path
        required: true
        description: dropped
        schema:
          type: string
    get:
      operationId: GetThing
      summary: dropped
      description: dropped
      x-permission: dropped
      externalDocs:
        url: https://dropped
      responses:
        "200":
          description: OK
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Thing'
              examples:
                one:
                  $ref: '#/components/examples/Dropped'
        default:
          $ref: '#/components/responses/Error'
    delete:
      responses:
        "204":
          description: gone
  /other:
    get:
      responses:
        "200":
          description: not kept
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Unused'
components:
  securitySchemes:
    JWT:
      type: http
      scheme: bearer
      description: dropped
  examples:
    Dropped:
      value: {}
  responses:
    Error:
      description: dropped text
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Error'
  schemas:
    Thing:
      type: object
      description: dropped
      example: {id: x}
      required: [description, summary]
      properties:
        description:
          type: string
          description: the property called description stays, its description goes
        summary:
          type: string
          example: dropped
        example:
          type: integer
          minimum: 1.5
          maximum: 10
        x-custom:
          type: boolean
        properties:
          $ref: '#/components/schemas/Nested'
        pet:
          $ref: '#/components/schemas/Pet'
        when:
          type: string
          format: date-time
          default: 2024-01-02T03:04:05Z
        settings:
          type: object
          default:
            description: literal data stays
            x-data: stays
          enum:
            - {summary: literal}
    Nested:
      type: object
      properties:
        deep:
          $ref: '#/components/schemas/Deep'
    Deep:
      type: string
      enum: [a, b]
      x-go-type: dropped
    Pet:
      type: object
      oneOf:
        - $ref: '#/components/schemas/Cat'
      discriminator:
        propertyName: kind
        mapping:
          cat: '#/components/schemas/Cat'
          dog: Dog
    Cat:
      type: object
      properties:
        kind: {type: string}
    Dog:
      type: object
      properties:
        kind: {type: string}
    Error:
      type: object
      properties:
        message: {type: string}
    Unused:
      type: object
`

// want is the trimmed fixture (apart from info.x-astro-ci-source).
const wantJSON = `{
 "components": {
  "responses": {
   "Error": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, "description": ""}
  },
  "schemas": {
   "Cat": {"properties": {"kind": {"type": "string"}}, "type": "object"},
   "Deep": {"enum": ["a", "b"], "type": "string"},
   "Dog": {"properties": {"kind": {"type": "string"}}, "type": "object"},
   "Error": {"properties": {"message": {"type": "string"}}, "type": "object"},
   "Nested": {"properties": {"deep": {"$ref": "#/components/schemas/Deep"}}, "type": "object"},
   "Pet": {
    "discriminator": {"mapping": {"cat": "#/components/schemas/Cat", "dog": "Dog"}, "propertyName": "kind"},
    "oneOf": [{"$ref": "#/components/schemas/Cat"}],
    "type": "object"
   },
   "Thing": {
    "properties": {
     "description": {"type": "string"},
     "example": {"maximum": 10, "minimum": 1.5, "type": "integer"},
     "pet": {"$ref": "#/components/schemas/Pet"},
     "properties": {"$ref": "#/components/schemas/Nested"},
     "settings": {
      "default": {"description": "literal data stays", "x-data": "stays"},
      "enum": [{"summary": "literal"}],
      "type": "object"
     },
     "summary": {"type": "string"},
     "when": {"default": "2024-01-02T03:04:05Z", "format": "date-time", "type": "string"},
     "x-custom": {"type": "boolean"}
    },
    "required": ["description", "summary"],
    "type": "object"
   }
  },
  "securitySchemes": {"JWT": {"scheme": "bearer", "type": "http"}}
 },
 "info": {"title": "Fixture", "version": "1.0"},
 "openapi": "3.0.3",
 "paths": {
  "/things/{thingId}": {
   "delete": {"responses": {"204": {"description": ""}}},
   "get": {
    "operationId": "GetThing",
    "responses": {
     "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}, "description": ""},
     "default": {"$ref": "#/components/responses/Error"}
    }
   },
   "parameters": [{"in": "path", "name": "thingId", "required": true, "schema": {"type": "string"}}]
  }
 },
 "security": [{"JWT": []}],
 "servers": [{"url": "https://api.example.com/v1"}]
}`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runTool(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	code := run(args, &stderr)
	return code, stderr.String()
}

func decodeFile(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func TestTrimYAML(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "spec.yaml", fixtureYAML)
	ops := writeFile(t, dir, "ops", "# comment\n\nGET /things/{thingId}  # trailing comment\n")
	out := filepath.Join(dir, "sub", "out.json")
	code, stderr := runTool(t, "-in", in, "-out", out, "-source", "fixture origin", "-ops", ops, "-op", "delete /things/{thingId}")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := decodeFile(t, out)

	info := got["info"].(map[string]any)
	src, ok := info["x-astro-ci-source"].(map[string]any)
	if !ok {
		t.Fatalf("info.x-astro-ci-source missing: %v", info)
	}
	sum := sha256.Sum256([]byte(fixtureYAML))
	wantSrc := map[string]any{"source": "fixture origin", "file": "spec.yaml", "sha256": hex.EncodeToString(sum[:])}
	if !reflect.DeepEqual(src, wantSrc) {
		t.Errorf("x-astro-ci-source = %v, want %v", src, wantSrc)
	}
	delete(info, "x-astro-ci-source")

	var want map[string]any
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		t.Errorf("trimmed document differs.\ngot:\n%s\nwant:\n%s", g, wantJSON)
	}

	// Deterministic: a second run gives the same bytes.
	first, _ := os.ReadFile(out)
	out2 := filepath.Join(dir, "out2.json")
	if code, stderr := runTool(t, "-in", in, "-out", out2, "-source", "fixture origin", "-op", "GET /things/{thingId}", "-op", "DELETE /things/{thingId}"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	second, _ := os.ReadFile(out2)
	if !bytes.Equal(first, second) {
		t.Error("two runs with the same input gave different bytes")
	}
	// Numbers are written as read, keys sorted, HTML not escaped.
	for _, want := range []string{`"minimum": 1.5`, `"maximum": 10,`} {
		if !bytes.Contains(first, []byte(want)) {
			t.Errorf("output lacks %s", want)
		}
	}
	if !bytes.HasSuffix(first, []byte("}\n")) {
		t.Error("output does not end with a newline")
	}
}

func TestTrimJSON(t *testing.T) {
	const doc = `{"openapi":"3.0.3","info":{"title":"t","version":"1","x-github-plan":"api.github.com"},
"paths":{"/a":{"get":{"x-github":{"category":"x"},"parameters":[{"$ref":"#/components/parameters/per-page"}],
"responses":{"200":{"description":"ok","headers":{"Link":{"$ref":"#/components/headers/link"}},
"content":{"application/json":{"schema":{"type":"integer","format":"int64","maximum":12345678901234567890}}}}}}}},
"components":{"parameters":{"per-page":{"name":"per_page","in":"query","schema":{"type":"integer","default":30}}},
"headers":{"link":{"schema":{"type":"string"},"example":"<x>"}},"examples":{"e":{"value":1}}}}`
	dir := t.TempDir()
	in := writeFile(t, dir, "spec.json", doc)
	out := filepath.Join(dir, "out.json")
	if code, stderr := runTool(t, "-in", in, "-out", out, "-source", "s", "-op", "GET /a"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(out)
	for _, want := range []string{`"per-page"`, `"link"`, `"maximum": 12345678901234567890`, `"default": 30`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("output lacks %s:\n%s", want, data)
		}
	}
	for _, unwanted := range []string{"x-github", `"examples"`, `"example"`, "<x>"} {
		if bytes.Contains(data, []byte(unwanted)) {
			t.Errorf("output has %s:\n%s", unwanted, data)
		}
	}
}

func TestMissingOperations(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "spec.yaml", fixtureYAML)
	out := filepath.Join(dir, "out.json")
	code, stderr := runTool(t, "-in", in, "-out", out, "-source", "s",
		"-op", "GET /things/{thingId}", "-op", "POST /things/{thingId}", "-op", "GET /nowhere")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"operation POST /things/{thingId} not found", "operation GET /nowhere not found"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("output written despite missing operations")
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "spec.yaml", fixtureYAML)
	out := filepath.Join(dir, "out.json")
	for name, args := range map[string][]string{
		"no source":    {"-in", in, "-out", out, "-op", "GET /other"},
		"no ops":       {"-in", in, "-out", out, "-source", "s"},
		"bad op":       {"-in", in, "-out", out, "-source", "s", "-op", "FETCH /other"},
		"op w/o slash": {"-in", in, "-out", out, "-source", "s", "-op", "GET other"},
		"positional":   {"-in", in, "-out", out, "-source", "s", "-op", "GET /other", "extra"},
	} {
		if code, _ := runTool(t, args...); code != 2 {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
	}
	if code, _ := runTool(t, "-in", filepath.Join(dir, "absent.yaml"), "-out", out, "-source", "s", "-op", "GET /other"); code != 1 {
		t.Errorf("missing input: exit %d, want 1", code)
	}
}

func TestBadReferences(t *testing.T) {
	for name, ref := range map[string]string{
		"external":      "other.yaml#/components/schemas/X",
		"missing":       "#/components/schemas/Absent",
		"not component": "#/paths/~1other",
	} {
		doc := strings.Replace(fixtureYAML, "$ref: '#/components/schemas/Deep'", "$ref: '"+ref+"'", 1)
		dir := t.TempDir()
		in := writeFile(t, dir, "spec.yaml", doc)
		code, stderr := runTool(t, "-in", in, "-out", filepath.Join(dir, "o.json"), "-source", "s", "-op", "GET /things/{thingId}")
		if code != 1 || !strings.Contains(stderr, ref) {
			t.Errorf("%s: exit %d, stderr %q; want 1 naming %s", name, code, stderr, ref)
		}
	}
}

func TestParseOps(t *testing.T) {
	ops, err := parseOps([]string{"# c", "", " get  /a ", "GET /a", "delete /b # why", "PATCH /c"})
	if err != nil {
		t.Fatal(err)
	}
	want := []operation{{"get", "/a"}, {"delete", "/b"}, {"patch", "/c"}}
	if !reflect.DeepEqual(ops, want) {
		t.Errorf("got %v, want %v", ops, want)
	}
	if _, err := parseOps([]string{"GET", "GET /a /b", "BREW /pot"}); err == nil || strings.Count(err.Error(), "operation ") != 3 {
		t.Errorf("want three errors, got %v", err)
	}
}

func TestYAMLScalars(t *testing.T) {
	doc, err := decodeDocument([]byte("openapi: 3.0.3\na: 0x10\nb: 1e3\nc: .5\nd: ~\ne: yes\nf: true\ng: 2001-12-14\nh: '7'\n200: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"openapi": "3.0.3", "a": json.Number("16"), "b": json.Number("1e3"), "c": json.Number("0.5"),
		"d": nil, "e": "yes", "f": true, "g": "2001-12-14", "h": "7", "200": "x",
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("got %#v\nwant %#v", doc, want)
	}
	for _, bad := range []string{"a: .inf\n", "a: 1\na: 2\n", "- a\n", "a: &x 1\n<<: {b: 2}\n"} {
		if _, err := decodeDocument([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// When the upstream descriptions are at hand (not in CI), the committed
// subsets must be exactly what the tool produces from them.
func TestCommittedSubsetsUpToDate(t *testing.T) {
	for _, tc := range []struct{ in, out, ops string }{
		{"../../../../shared/specs/astro-v1.0.openapi.yaml", "../../../testdata/openapi/astro-v1.0.subset.json", "astro.ops"},
		{"../../../../shared/specs/github-api.github.com.json", "../../../testdata/openapi/github.subset.json", "github.ops"},
	} {
		if _, err := os.Stat(tc.in); err != nil {
			t.Skipf("upstream description not available: %v", err)
		}
		committed := decodeFile(t, tc.out)
		src := committed["info"].(map[string]any)["x-astro-ci-source"].(map[string]any)["source"].(string)
		out := filepath.Join(t.TempDir(), "out.json")
		if code, stderr := runTool(t, "-in", tc.in, "-out", out, "-source", src, "-ops", tc.ops); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		fresh, _ := os.ReadFile(out)
		old, _ := os.ReadFile(tc.out)
		if !bytes.Equal(fresh, old) {
			t.Errorf("%s is stale: run go generate ./internal/contract", tc.out)
		}
		if len(old) > 1<<20 {
			t.Errorf("%s is %d bytes, keep it under 1 MiB", tc.out, len(old))
		}
	}
}
