package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// sourceInfo is recorded in info.x-astro-ci-source of the output.
type sourceInfo struct {
	Text   string
	File   string
	SHA256 string
}

// strippedKeys are removed wherever they appear as a field of an OpenAPI
// object (never where they are a name, see nameMapKeys). Keys starting with
// "x-" are removed too.
var strippedKeys = map[string]bool{
	"description":  true,
	"summary":      true,
	"example":      true,
	"examples":     true,
	"externalDocs": true,
}

// nameMapKeys are fields whose value is a map from user-chosen names
// (property names, media types, status codes, component names, ...) to
// objects. The names must be kept verbatim even if they look like a stripped
// field: a schema may well have a property called "description".
var nameMapKeys = map[string]bool{
	"paths":           true,
	"properties":      true,
	"schemas":         true,
	"parameters":      true, // a map in components, a list elsewhere
	"responses":       true,
	"requestBodies":   true,
	"headers":         true,
	"securitySchemes": true,
	"links":           true,
	"callbacks":       true,
	"content":         true,
	"encoding":        true,
	"mapping":         true,
	"variables":       true,
	"scopes":          true,
}

// literalKeys hold data rather than OpenAPI objects (a schema's default or
// enum values, security requirements); they are copied untouched.
var literalKeys = map[string]bool{
	"default":  true,
	"enum":     true,
	"const":    true,
	"security": true,
	"required": true,
}

// componentKinds are the sections of components a local $ref may point into.
var componentKinds = []string{
	"schemas", "parameters", "responses", "requestBodies", "headers",
	"examples", "links", "callbacks", "securitySchemes",
}

func stripped(key string) bool {
	return strippedKeys[key] || strings.HasPrefix(key, "x-")
}

// clean returns a deep copy of an OpenAPI object with stripped fields removed.
func clean(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, val := range v {
			switch {
			case stripped(k):
			case literalKeys[k]:
				out[k] = deepCopy(val)
			case nameMapKeys[k]:
				out[k] = cleanNameMap(val)
			default:
				out[k] = clean(val)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = clean(e)
		}
		return out
	default:
		return v
	}
}

// cleanNameMap keeps every key of a name map and cleans the values. A list
// in a name-map position (operation parameters) is a list of objects.
func cleanNameMap(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return clean(v)
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		out[k] = clean(val)
	}
	return out
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, val := range v {
			out[k] = deepCopy(val)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// collectRefs calls add for every reference in a cleaned object: $ref
// values and discriminator mapping targets (which are references written as
// plain strings, so a generic $ref walk would miss them).
func collectRefs(v any, add func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			switch {
			case k == "$ref":
				if s, ok := val.(string); ok {
					add(s)
				}
			case k == "discriminator":
				if d, ok := val.(map[string]any); ok {
					if mapping, ok := d["mapping"].(map[string]any); ok {
						for _, target := range mapping {
							if s, ok := target.(string); ok {
								if !strings.Contains(s, "/") {
									s = "#/components/schemas/" + s // bare schema name
								}
								add(s)
							}
						}
					}
				}
			case literalKeys[k]:
				// data, not references
			case nameMapKeys[k]:
				if m, ok := val.(map[string]any); ok {
					for _, e := range m {
						collectRefs(e, add)
					}
				} else {
					collectRefs(val, add)
				}
			default:
				collectRefs(val, add)
			}
		}
	case []any:
		for _, e := range v {
			collectRefs(e, add)
		}
	}
}

// component identifies one entry of components.
type component struct{ kind, name string }

// parseRef splits a local reference "#/components/<kind>/<name>[/...]".
// A reference into the inside of a component keeps the whole component.
func parseRef(ref string) (component, error) {
	rest, ok := strings.CutPrefix(ref, "#/components/")
	if !ok {
		return component{}, fmt.Errorf("unsupported reference %q: only local #/components/... references are handled", ref)
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || !slices.Contains(componentKinds, parts[0]) || parts[1] == "" {
		return component{}, fmt.Errorf("unsupported reference %q", ref)
	}
	name := strings.NewReplacer("~1", "/", "~0", "~").Replace(parts[1])
	return component{kind: parts[0], name: name}, nil
}

// missingOpsError lists the requested operations absent from the input.
type missingOpsError struct{ ops []operation }

func (e *missingOpsError) Error() string {
	lines := make([]string, len(e.ops))
	for i, op := range e.ops {
		lines[i] = fmt.Sprintf("operation %s not found in the description", op)
	}
	return strings.Join(lines, "\n")
}

// subset builds the trimmed document.
func subset(doc map[string]any, ops []operation, src sourceInfo) (map[string]any, error) {
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.0.") {
		return nil, fmt.Errorf("openapi version %q: only OpenAPI 3.0.x is supported", v)
	}
	inPaths, _ := doc["paths"].(map[string]any)
	inComponents, _ := doc["components"].(map[string]any)

	out := map[string]any{"openapi": doc["openapi"]}
	info, _ := clean(doc["info"]).(map[string]any)
	if info == nil {
		info = map[string]any{}
	}
	info["x-astro-ci-source"] = map[string]any{
		"source": src.Text,
		"file":   src.File,
		"sha256": src.SHA256,
	}
	out["info"] = info
	if v, ok := doc["servers"]; ok {
		out["servers"] = clean(v)
	}
	if v, ok := doc["security"]; ok {
		out["security"] = deepCopy(v)
	}

	paths := map[string]any{}
	var missing []operation
	for _, op := range ops {
		item, _ := inPaths[op.Path].(map[string]any)
		if item == nil || item[op.Method] == nil {
			missing = append(missing, op)
			continue
		}
		if _, isRef := item["$ref"]; isRef {
			return nil, fmt.Errorf("path %s: path item $ref is not supported", op.Path)
		}
		outItem, _ := paths[op.Path].(map[string]any)
		if outItem == nil {
			outItem = map[string]any{}
			// Path-level fields apply to every operation of the path.
			for _, k := range []string{"parameters", "servers"} {
				if v, ok := item[k]; ok {
					outItem[k] = clean(v)
				}
			}
			paths[op.Path] = outItem
		}
		operationObj, ok := item[op.Method].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("operation %s is not an object", op)
		}
		cleaned := clean(operationObj).(map[string]any)
		if responses, ok := cleaned["responses"].(map[string]any); ok {
			requireResponseDescriptions(responses)
		}
		outItem[op.Method] = cleaned
	}
	if len(missing) > 0 {
		return nil, &missingOpsError{ops: missing}
	}
	out["paths"] = paths

	// Copy referenced components until no new reference turns up.
	outComponents := map[string]map[string]any{}
	var errs []error
	var queue []any
	seen := map[string]bool{}
	add := func(ref string) {
		if seen[ref] {
			return
		}
		seen[ref] = true
		c, err := parseRef(ref)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if outComponents[c.kind][c.name] != nil {
			return
		}
		section, _ := inComponents[c.kind].(map[string]any)
		value, ok := section[c.name]
		if !ok {
			errs = append(errs, fmt.Errorf("reference %q: no such component", ref))
			return
		}
		cleaned := clean(value)
		if c.kind == "responses" {
			if m, ok := cleaned.(map[string]any); ok {
				requireResponseDescription(m)
			}
		}
		if outComponents[c.kind] == nil {
			outComponents[c.kind] = map[string]any{}
		}
		outComponents[c.kind][c.name] = cleaned
		queue = append(queue, cleaned)
	}
	collectRefs(out, add)
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		collectRefs(next, add)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// Security schemes are referenced by name from security requirements,
	// not by $ref; they are small, so keep them all.
	if schemes, ok := inComponents["securitySchemes"]; ok {
		outComponents["securitySchemes"] = cleanNameMap(schemes).(map[string]any)
	}
	if len(outComponents) > 0 {
		comps := map[string]any{}
		for k, v := range outComponents {
			comps[k] = v
		}
		out["components"] = comps
	}
	return out, nil
}

// requireResponseDescriptions applies requireResponseDescription to every
// inline Response object of an operation's responses.
func requireResponseDescriptions(responses map[string]any) {
	for _, r := range responses {
		if m, ok := r.(map[string]any); ok {
			requireResponseDescription(m)
		}
	}
}

// requireResponseDescription puts back an empty description: OpenAPI 3.0
// requires the field on a Response object (validators reject the document
// without it), but its text is of no use to the project.
func requireResponseDescription(r map[string]any) {
	if _, isRef := r["$ref"]; !isRef {
		r["description"] = ""
	}
}
