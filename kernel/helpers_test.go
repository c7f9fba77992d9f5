package kernel

import (
	"encoding/json"
	"os"
)

func writeFile(p, content string) error { return os.WriteFile(p, []byte(content), 0o644) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
