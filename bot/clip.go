package bot

import "github.com/mfadesk/mfadesk/bot/chat"

// clip and capitalize are chat's (one rule for every message).
var (
	clip       = chat.Clip
	capitalize = chat.Capitalize
)
