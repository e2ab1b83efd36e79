package content

import "strings"

// ymlKey names in wod.yml's spelling the workshop field that
// Workshop.Validate names in the API's.
func ymlKey(field string) string {
	switch field {
	case "title":
		return "name"
	case "categories":
		return "category"
	case "seat_min", "seat_max":
		return "range"
	case "session_type":
		return "sessionType"
	case "appliance":
		return "monoappliance"
	case "presenter_role":
		return "role"
	case "image":
		return "workshopImg"
	case "badge_image":
		return "badgeImg"
	case "replay_id":
		return "replayId"
	case "replay_link":
		return "replayLink"
	case "prerequisite":
		return "preRequisite"
	case "limits.memory", "limits.cpus", "limits.tasks", "limits.disk":
		return strings.TrimPrefix(field, "limits.")
	}
	return field
}

// ymlKeys lists the keys a wod.yml may hold, for suggestions.
func ymlKeys() []string {
	return []string{
		"name", "description", "active", "capacity", "priority", "range", "reset", "ldap", "replayId",
		"varpass", "compile", "workshopImg", "badgeImg", "beta", "category", "duration", "presenter",
		"role", "avatar", "replayLink", "preRequisite", "monoappliance", "multiappliance", "sessionType",
		"memory", "cpus", "tasks", "disk", "warm", "extend", "opens", "closes",
	}
}

// suggestKey returns the known key that an unknown one most likely meant, or "".
func suggestKey(key string) string {
	best, bestDist := "", 3 // further than two edits is not a typo
	for _, k := range ymlKeys() {
		if strings.EqualFold(k, key) {
			return k
		}
		if dist := editDistance(strings.ToLower(k), strings.ToLower(key)); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
