package delivery_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/arbor-auth/arbor/push/delivery"
)

func ExampleBuild() {
	// A zero Config logs fcm, apns and webhook pushes and leaves poll devices to poll.
	r, err := delivery.Build(delivery.Config{
		Rules: []delivery.Rule{{Name: "qa", Users: []string{"qa-*"}, Provider: "log"}},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range []delivery.Message{
		{User: "alice", Device: delivery.Device{Communication: "gcm"}},
		{User: "qa-7", Device: delivery.Device{Communication: "apns"}},
		{User: "alice", Device: delivery.Device{Communication: "poll"}},
	} {
		provider, rule, _ := r.Route(m)
		fmt.Println(m.User, m.Device.Communication, "->", provider, "by", rule)
	}
	// Output:
	// alice gcm -> log by default
	// qa-7 apns -> log by qa
	// alice poll -> poll by default
}

func ExampleVerifyWebhook() {
	secret := []byte("whsec_0123456789abcdef")
	// A receiver checks each request before acting on it.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := delivery.VerifyWebhook(secret, r.Header.Get(delivery.WebhookSignatureHeader), body, 5*time.Minute, time.Now()); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted) // then deliver, dropping duplicate message_ids
	})
	_ = handler

	body := []byte(`{"message_id":"AUTHENTICATE:1"}`)
	sent := time.Unix(1_800_000_000, 0)
	header := delivery.SignWebhook(secret, body, sent)
	fmt.Println(delivery.VerifyWebhook(secret, header, body, 5*time.Minute, sent.Add(time.Minute)))
	err := delivery.VerifyWebhook(secret, header, []byte(`{"message_id":"AUTHENTICATE:2"}`), 5*time.Minute, sent)
	fmt.Println(errors.Is(err, delivery.ErrWebhookSignature))
	// Output:
	// <nil>
	// true
}
