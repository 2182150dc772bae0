package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"go.yaml.in/yaml/v4"
)

// decodeDocument reads a JSON or YAML document into generic values: maps are
// map[string]any, numbers json.Number (so they are written back exactly as
// read), and everything else the obvious Go type.
func decodeDocument(data []byte) (map[string]any, error) {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("decoding JSON: %w", err)
		}
		if dec.More() {
			return nil, errors.New("decoding JSON: trailing data after the document")
		}
		return doc, nil
	}

	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("decoding YAML: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil, errors.New("decoding YAML: expected a single document")
	}
	v, err := fromYAML(root.Content[0], 0)
	if err != nil {
		return nil, fmt.Errorf("decoding YAML: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("decoding YAML: the document is not a mapping")
	}
	return doc, nil
}

// fromYAML converts a YAML node by hand rather than through yaml.Unmarshal
// into any, because the latter turns timestamps into time.Time and
// non-string keys into map[any]any, neither of which JSON can represent
// faithfully.
func fromYAML(n *yaml.Node, depth int) (any, error) {
	if depth > 1000 {
		return nil, errors.New("nesting too deep (alias loop?)")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return fromYAML(n.Alias, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: non-scalar mapping key", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("line %d: YAML merge keys are not supported", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			val, err := fromYAML(v, depth+1)
			if err != nil {
				return nil, err
			}
			// Keys are names (paths, status codes, property names): keep
			// their text even when YAML would resolve them to a number.
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		return s, nil
	case yaml.ScalarNode:
		return scalarFromYAML(n)
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
	}
}

func scalarFromYAML(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return json.Number(strconv.FormatInt(i, 10)), nil
	case "!!float":
		// Keep the literal when it already is valid JSON (1.5, 1e3).
		if json.Valid([]byte(n.Value)) {
			var num json.Number
			if err := json.Unmarshal([]byte(n.Value), &num); err == nil {
				return num, nil
			}
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %q cannot be represented in JSON", n.Line, n.Value)
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case "!!str", "!!timestamp":
		// Timestamps stay the text they were written as.
		return n.Value, nil
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, n.ShortTag())
	}
}

// encodeJSON writes v with sorted keys (encoding/json sorts map keys), a
// one-space indent, no HTML escaping and a final newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
