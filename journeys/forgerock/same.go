package forgerock

import (
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
)

// SameJourney reports whether doc, a journey converted from an AM export, describes the
// same journey as stored, the document saved in Arbor: whether stored, exported and
// imported again, is journeys.Equivalent to doc. An AM export gives each node a UUID
// (a stable one derived from the journey and node names when its id is not one) and
// spells out every attribute, defaults included, so a tree read from Arbor and put back
// unchanged (frodo's journey enable and disable do that) converts to a document that is
// not equal to the stored one. It is the journeys.SaveOptions.Same of AM's doors.
func SameJourney(stored, doc []byte, reg *nodes.Registry) bool {
	j, ps := journeys.Parse(stored)
	if ps != nil {
		return false
	}
	b, err := Export([]*journeys.Journey{j}, reg, nil, nil)
	if err != nil {
		return false // AM cannot express it, so no AM export was of it
	}
	res := Import([]File{{Name: "stored", Data: b}}, Options{Registry: reg, Known: func(string) bool { return true }})
	if !res.OK() || len(res.Journeys) != 1 {
		return false
	}
	return journeys.Equivalent(res.Journeys[0].Doc, doc, reg)
}
