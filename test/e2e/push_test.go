package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/internal/testredis"
)

// TestSDKPush: the official ForgeRock SDK drives push-mfa against `arbor serve` on
// Redis. It reads mfaDeviceRegistration (FRQRCode), the reference authenticator
// registers from it and later answers the push; the SDK's PollingWaitCallback loop ends
// with a session on approval, and fails on a deny or a wrong number.
func TestSDKPush(t *testing.T) {
	rs := testredis.Start(t)
	users := "users:\n"
	for _, u := range []string{"approver", "denier", "mismatcher"} {
		users += fmt.Sprintf("  - {username: %s, password: \"pw-%s-12345\", realm: /}\n", u, u)
	}
	srv, _ := startServer(t, "--redis", rs.URL(), "--users", writeFile(t, "users.yaml", users), "--data", t.TempDir())
	for _, tc := range []struct {
		user, mode, want string
	}{
		{"approver", "approve", "success"},
		{"denier", "deny", "failure"},
		{"mismatcher", "wrong", "failure"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			phone := filepath.Join(t.TempDir(), "phone.json")
			out := node(t, 90*time.Second, "push.mjs", srv.URL, arbor(t), phone, tc.user, "pw-"+tc.user+"-12345", tc.mode)
			if out["result"] != tc.want {
				t.Fatalf("%s: %v", tc.mode, out)
			}
			if out["registered"] != true || out["qrUse"] != "push" || out["codes"] != float64(10) || out["deviceName"] != "SDK test phone" {
				t.Fatalf("registration through the SDK: %v", out)
			}
			if n, _ := out["number"].(float64); n < 10 || n > 99 {
				t.Fatalf("no number to match was shown: %v", out)
			}
			if tc.want == "success" && out["token"] == nil {
				t.Fatalf("no session: %v", out)
			}
			if tc.want == "success" {
				// The session says how it was earned: password and phone, level 20.
				status, info := postJSON(t, srv.URL+"/json/realms/root/sessions?_action=getSessionInfo", nil, "iPlanetDirectoryPro", out["token"].(string))
				props, _ := info["properties"].(map[string]any)
				if status != 200 || props["AuthLevel"] != "20" || props["Factors"] != "pwd,push" {
					t.Fatalf("getSessionInfo of the SDK's push session: %d %v", status, info)
				}
				// The password alone no longer signs this push-enrolled user in.
				pw := node(t, 60*time.Second, "login.mjs", srv.URL, "login", tc.user, "pw-"+tc.user+"-12345")
				if pw["result"] != "failure" || pw["code"] != float64(401) || pw["token"] != nil {
					t.Fatalf("password-only login of a push-enrolled user through the SDK: %v", pw)
				}
			}
			if tc.want == "failure" && out["code"] != float64(401) {
				t.Fatalf("failure is not a 401: %v", out)
			}
		})
	}
}

// TestDeviceListen: with push.device_listen, the device API also answers on its own
// address, and that address serves nothing else.
func TestDeviceListen(t *testing.T) {
	port := freePort(t)
	cfg := writeFile(t, "arbor.yaml", fmt.Sprintf("push:\n  device_listen: 127.0.0.1:%d\n", port))
	_, _ = startServer(t, "--config", cfg, "--data", t.TempDir())
	dev := fmt.Sprintf("http://127.0.0.1:%d", port)
	status, body := postJSON(t, dev+"/json/realms/root/push/sns/message?_action=register", map[string]any{"messageId": "REGISTER:nope", "jwt": "x.y.z"})
	if status < 400 || status >= 500 || body["message"] == nil {
		t.Fatalf("device API on its own address: %d %v", status, body)
	}
	if status, _ := postJSON(t, dev+"/json/realms/root/authenticate", nil); status != 404 {
		t.Fatalf("the device address also serves logins: %d", status)
	}
}
