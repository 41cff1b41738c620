package destpb

import plugin "github.com/hashicorp/go-plugin"

// ProtocolVersion is the version of this protocol. The host and the SDK
// negotiate it through go-plugin's VersionedPlugins; a plugin built against
// another version is refused at launch with both versions in the error.
const ProtocolVersion = 1

// PluginName is the name under which the destination is dispensed.
const PluginName = "destination"

// Handshake is shared by the host and every plugin. The cookie only keeps a
// user from running a plugin binary by hand; it is not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SIPHON_DESTINATION_PLUGIN",
	MagicCookieValue: "c3lwaG9uLWRlc3RpbmF0aW9uLXYx",
}

// MaxMessageBytes is the gRPC message size both sides accept. go-plugin's
// default is 4 MiB; the host still splits batches at 4 MiB, so the larger
// limit only matters for a single huge record or a big Read.
const MaxMessageBytes = 256 << 20

// WindowBytes is the HTTP/2 flow-control window both sides use, large
// enough for one whole split batch, so a Write is not paced by window
// updates.
const WindowBytes = 8 << 20

// IOBufferBytes is the gRPC transport's read and write buffer on both
// sides: batches move in fewer, larger reads and writes.
const IOBufferBytes = 1 << 20
