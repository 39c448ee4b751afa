package mfa

import (
	"encoding/json"
	"strings"

	"github.com/arbor-auth/arbor/nodes"
)

// DeviceProfileConfig configures device_profile_collector.
type DeviceProfileConfig struct {
	Metadata bool              `json:"metadata" default:"true" doc:"Ask for device metadata (platform, browser)."`
	Location bool              `json:"location" default:"true" doc:"Ask for the device's location (shown with pushes when push_sender shares context)."`
	Message  map[string]string `json:"message" default:"{\"en\":\"Collecting profile ...\"}" doc:"Message shown while collecting, by locale."`
	MaxBytes int               `json:"max_bytes" default:"4096" min:"256" max:"16384" doc:"Largest profile accepted; a larger one is ignored."`
}

// registerDeviceProfileCollector adds the device_profile_collector node type to r.
func registerDeviceProfileCollector(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[DeviceProfileConfig]{
		Type:     "device_profile_collector",
		Title:    "Device Profile Collector",
		Category: "context",
		Summary:  "Collects device metadata and location from the client, for push context and decisions.",
		Description: "Sends a DeviceProfileCallback; the client answers with JSON ({metadata, location: {latitude, longitude}}). " +
			"The profile is kept in shared state deviceProfile. A malformed or oversized answer is ignored, never fatal: the " +
			"profile is a hint, not a credential.",
		Input:    true,
		Outcomes: []nodes.Outcome{{ID: "outcome", Label: "Outcome"}},
		New: func(c *DeviceProfileConfig, _ *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				if ctx.Callbacks == nil {
					return nodes.Send(nodes.DeviceProfileCallback(c.Metadata, c.Location, text(c.Message, ctx, "Collecting profile ..."))), nil
				}
				raw := ""
				if len(ctx.Callbacks) == 1 {
					raw = strings.TrimSpace(ctx.Callbacks[0].InString())
				}
				var prof struct {
					Metadata map[string]any `json:"metadata"`
					// Pointers, because the SDKs send "location": {} when the device
					// will not tell: that is no location, not latitude 0, longitude 0.
					Location *struct {
						Latitude  *float64 `json:"latitude"`
						Longitude *float64 `json:"longitude"`
					} `json:"location"`
				}
				if raw != "" && len(raw) <= c.MaxBytes && json.Unmarshal([]byte(raw), &prof) == nil {
					p := map[string]any{}
					if c.Metadata && prof.Metadata != nil {
						p["metadata"] = prof.Metadata
					}
					if l := prof.Location; c.Location && l != nil && validCoord(l.Latitude, 90) && validCoord(l.Longitude, 180) {
						p["location"] = map[string]any{"latitude": *l.Latitude, "longitude": *l.Longitude}
					}
					ctx.Shared[KeyDeviceProfile] = p
				} else if raw != "" {
					ctx.Log.Warn("device profile ignored: malformed or too large", "bytes", len(raw))
				}
				return nodes.Goto("outcome"), nil
			}), nil
		},
	})
}

func validCoord(v *float64, lim float64) bool { return v != nil && *v >= -lim && *v <= lim }
