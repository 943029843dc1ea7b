package device

// Stream is the stream of a device: its registration and its owner's own
// use of it. See docs/consistency.md for what it protects.
func Stream(id ID) string { return "device-" + string(id) }
