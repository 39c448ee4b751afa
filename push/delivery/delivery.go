// Package delivery carries push messages to devices: FCM HTTP v1, APNs, signed
// webhooks, a log provider for development, and poll (the device fetches its pending
// challenges itself, so push works with no vendor cloud). Which provider serves a
// message is chosen by policy on realm, user and client network, as LinOTP's push
// providers are.
package delivery

import (
	"context"
	"time"
)

// Message is one push to one device. JWT is already signed with the device's secret;
// providers only carry it.
type Message struct {
	// MessageID is the push message id ("AUTHENTICATE:<uuid><ms>"), for correlation.
	MessageID string
	// JWT is the signed push message the device verifies and answers.
	JWT string
	// Title and Body are the human text of the notification.
	Title, Body string
	// Device is where it goes.
	Device Device
	// Realm and User the push is for, and ClientIP of the login that caused it; the
	// policy picks a provider from these.
	Realm, User, ClientIP string
	// TTL is how long the message is worth delivering.
	TTL time.Duration
	// AnswerCommand, when set, is a shell command that answers the push with the
	// reference authenticator; the log provider prints it (development only).
	AnswerCommand string
}

// Device identifies the target device.
type Device struct {
	// ID is the device's mechanism uid.
	ID string
	// Platform is "android", "ios" or another platform name the device reported.
	Platform string
	// Communication is how the device receives pushes: "fcm" (AM's "gcm" is accepted as
	// an alias), "apns", "webhook", "poll" or "log".
	Communication string
	// Token is the FCM registration token or APNs device token.
	Token string
}

// Deliverer sends messages. The Router built from configuration implements it.
type Deliverer interface {
	// Deliver sends m, or returns an error wrapping ErrTransmission. It must return
	// within its context's deadline: a failed delivery never hangs a journey.
	Deliver(ctx context.Context, m Message) error
}

// ValidityDeliverer is a Deliverer that can say, before a message is signed, how long a
// push to its device should stay valid (0: as the sender asked). The Router implements
// it from its providers' ValidityProvider.
type ValidityDeliverer interface {
	Deliverer
	// Validity returns the life of a push like m; m needs only its device, realm, user
	// and client address.
	Validity(m Message) time.Duration
}
