package content

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isScalar(n *yaml.Node) bool {
	n = resolve(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null"
}

// kindName says what a node is, for messages.
func kindName(n *yaml.Node) string {
	switch resolve(n).Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return "a value"
	}
	return "an unknown YAML node"
}

// show writes a node back the way a person wrote it, quoted, for messages:
// "[7-3]", "[1,6]", "yes".
func show(n *yaml.Node) string {
	return strconv.Quote(flow(n))
}

func flow(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return n.Value
	case yaml.SequenceNode:
		items := make([]string, len(n.Content))
		for i, item := range n.Content {
			items[i] = flow(item)
		}
		return "[" + strings.Join(items, ",") + "]"
	case yaml.MappingNode:
		return "{…}"
	}
	return "?"
}
