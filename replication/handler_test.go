package replication

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/meta"
)

// client calls the handler mounted under /api/backup/replication.
type client struct {
	t   *testing.T
	srv *httptest.Server
	// token, if set, is sent as a bearer token.
	token string
	// answers keeps every body the API returned, to scan for secrets.
	answers bytes.Buffer
}

func newAPI(t *testing.T, h *harness) *client { return newAPIWith(t, h, api.Options{}) }

func newAPIWith(t *testing.T, h *harness, opts api.Options) *client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/api/backup/replication/", http.StripPrefix("/api/backup/replication", NewHandler(h.svc, opts)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &client{t: t, srv: srv}
}

func (a *client) do(method, path, body string) (int, string, http.Header) {
	a.t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, a.srv.URL+"/api/backup/replication"+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b := readAll(a.t, resp.Body)
	a.answers.WriteString(b + "\n")
	for k, vs := range resp.Header {
		a.answers.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	return resp.StatusCode, b, resp.Header
}

func TestHandler(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 100, edges: 100})
	recv, _ := receiverServer(t, "peer-secret-token")
	a := newAPI(t, h)
	row := h.snapshot(backup.KindFull)

	code, body, hdr := a.do("POST", "/targets", `{"name":"legacy","base_url":"`+recv.URL+`","api_key":"peer-secret-token"}`)
	if code != http.StatusCreated {
		t.Fatalf("old-style http target: got %d %s", code, body)
	}
	var legacy meta.Target
	if err := json.Unmarshal([]byte(body), &legacy); err != nil {
		t.Fatal(err)
	}
	if legacy.Kind != KindHTTP || hdr.Get("Location") != "/api/backup/replication/targets/"+legacy.ID {
		t.Errorf("got kind %q, Location %q", legacy.Kind, hdr.Get("Location"))
	}
	code, body, _ = a.do("POST", "/targets?verify=true", `{"name":"disk","kind":"file","path":"/srv/replica/disk"}`)
	if code != http.StatusCreated {
		t.Fatalf("file target: got %d %s", code, body)
	}
	var disk meta.Target
	if err := json.Unmarshal([]byte(body), &disk); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, method, path, body string
		want                     int
		contains                 string
	}{
		{"list", "GET", "/targets", "", 200, `"name":"disk"`},
		{"get", "GET", "/targets/" + disk.ID, "", 200, `"kind":"file"`},
		{"malformed id", "GET", "/targets/nope", "", 400, "id"},
		{"unknown id", "GET", "/targets/" + meta.NewID(), "", 404, ""},
		{"unknown kind", "POST", "/targets", `{"name":"x","kind":"tape"}`, 400, "unknown target kind"},
		{"no kind", "POST", "/targets", `{"name":"x","path":"/a"}`, 400, "kind"},
		{"no name", "POST", "/targets", `{"kind":"file","path":"/a"}`, 400, "name"},
		{"unknown field", "POST", "/targets", `{"name":"x","kind":"file","path":"/a","colour":"red"}`, 400, "colour"},
		{"relative path", "POST", "/targets", `{"name":"x","kind":"file","path":"a/b"}`, 400, "absolute"},
		{"token on a file target", "POST", "/targets", `{"name":"x","kind":"file","path":"/a","token":"t"}`, 400, "token"},
		{"name taken", "POST", "/targets", `{"name":"disk","kind":"file","path":"/b"}`, 409, ""},
		{"no body", "POST", "/targets", "", 400, ""},
		{"rename", "PATCH", "/targets/" + disk.ID, `{"name":"disk2","enabled":false}`, 200, `"name":"disk2"`},
		{"change kind", "PATCH", "/targets/" + disk.ID, `{"kind":"s3"}`, 400, "kind"},
		{"bad patch", "PATCH", "/targets/" + disk.ID, `{"path":"rel"}`, 400, ""},
		{"enable", "PATCH", "/targets/" + disk.ID, `{"enabled":true}`, 200, `"enabled":true`},
		{"check", "POST", "/targets/" + disk.ID + "/check", "", 200, `"health":"healthy"`},
		{"replicate malformed snapshot", "POST", "/replicate", `{"snapshot_id":"x"}`, 400, "snapshot_id"},
		{"replicate unknown snapshot", "POST", "/replicate", `{"snapshot_id":"` + meta.NewID() + `"}`, 404, ""},
		{"replicate unknown target", "POST", "/replicate", `{"snapshot_id":"` + row.ID + `","target_id":"` + meta.NewID() + `"}`, 404, ""},
		{"replicate and wait", "POST", "/replicate?wait=true", `{"snapshot_id":"` + row.ID + `"}`, 200, `"ok":true`},
		{"replicate in the background", "POST", "/replicate", `{"snapshot_id":"` + row.ID + `","target_id":"` + disk.ID + `"}`, 202, `"kind":"replicate"`},
		{"status", "GET", "/status", "", 200, `"target_name":"legacy"`},
		{"events", "GET", "/events?kind=snapshot&limit=1", "", 200, `"next_cursor"`},
		{"events bad kind", "GET", "/events?kind=x", "", 400, "kind"},
		{"events bad target", "GET", "/events?target_id=x", "", 400, "target_id"},
		{"events bad cursor", "GET", "/events?cursor=%24", "", 400, "cursor"},
		{"unknown path", "GET", "/nope", "", 404, ""},
		{"wrong method", "PUT", "/targets", "", 405, ""},
		{"delete", "DELETE", "/targets/" + disk.ID, "", 204, ""},
		{"delete again", "DELETE", "/targets/" + disk.ID, "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, hdr := a.do(tt.method, tt.path, tt.body)
			if code != tt.want {
				t.Fatalf("got %d %s, want %d", code, body, tt.want)
			}
			if !strings.Contains(body, tt.contains) {
				t.Errorf("body %s does not contain %q", body, tt.contains)
			}
			if code >= 400 && hdr.Get("Content-Type") != api.ContentTypeProblem {
				t.Errorf("error answered as %q, want problem+json", hdr.Get("Content-Type"))
			}
		})
	}
}

// TestHandlerAuthorizer: with a write token, status (the target list) is open,
// every change needs the token, and an operation's result is content.
func TestHandlerAuthorizer(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 10, edges: 10})
	row := h.snapshot(backup.KindFull)
	a := newAPIWith(t, h, api.Options{Authorizer: api.BearerToken(api.Tokens{Write: "w"})})
	const target = `{"name":"x","kind":"file","path":"/a"}`
	if code, body, hdr := a.do("POST", "/targets", target); code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("POST /targets without a token: got %d %s (challenge %q), want 401 with a challenge", code, body, hdr.Get("WWW-Authenticate"))
	}
	if ts, _ := h.svc.List(h.ctx); len(ts) != 0 {
		t.Fatalf("a refused request stored %d targets", len(ts))
	}
	for _, path := range []string{"/targets", "/status", "/events"} {
		if code, body, _ := a.do("GET", path, ""); code != http.StatusOK {
			t.Errorf("GET %s without a token: got %d %s, want 200", path, code, body)
		}
	}

	a.token = "w"
	code, body, _ := a.do("POST", "/targets", target)
	if code != http.StatusCreated {
		t.Fatalf("POST /targets with the write token: got %d %s, want 201", code, body)
	}
	var tg meta.Target
	if err := json.Unmarshal([]byte(body), &tg); err != nil {
		t.Fatal(err)
	}
	code, body, hdr := a.do("POST", "/replicate", `{"snapshot_id":"`+row.ID+`"}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST /replicate: got %d %s, want 202", code, body)
	}
	op := strings.TrimPrefix(hdr.Get("Location"), "/api/backup/replication")

	a.token = ""
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/targets/" + tg.ID, http.StatusOK},
		{"GET", op, http.StatusUnauthorized},
		{"PATCH", "/targets/" + tg.ID, http.StatusUnauthorized},
		{"POST", "/targets/" + tg.ID + "/check", http.StatusUnauthorized},
		{"DELETE", "/targets/" + tg.ID, http.StatusUnauthorized},
		{"POST", "/failover", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		if code, body, _ := a.do(tt.method, tt.path, ""); code != tt.want {
			t.Errorf("%s %s without a token: got %d %s, want %d", tt.method, tt.path, code, body, tt.want)
		}
	}
	a.token = "w"
	if code, body, _ := a.do("GET", op, ""); code != http.StatusOK {
		t.Errorf("GET %s with the token: got %d %s, want 200", op, code, body)
	}
}

// TestSecretsStayHidden registers targets with secrets, uses them (also failing),
// and scans every API answer, the logs and the metric labels for the secrets.
func TestSecretsStayHidden(t *testing.T) {
	const (
		token     = "tok-9f8e7d6c5b4a"
		wrong     = "tok-wrong-1a2b3c"
		s3Secret  = "s3sec-0a1b2c3d4e5f"
		s3Access  = "AKIAEXAMPLE"
		newSecret = "tok-rotated-77aa88"
	)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := newHarness(t, harnessOpts{nodes: 50, edges: 50, service: []Option{WithMeterProvider(mp)}})
	recv, _ := receiverServer(t, token)
	s3URL := fakeS3(t)
	a := newAPI(t, h)
	row := h.snapshot(backup.KindFull)

	bodies := []string{
		`{"name":"peer","kind":"http","base_url":"` + recv.URL + `","token":"` + token + `","verify":true}`,
		`{"name":"peer-bad","kind":"http","base_url":"` + recv.URL + `","token":"` + wrong + `"}`,
		`{"name":"bucket","kind":"s3","endpoint":"` + s3URL + `","bucket":"replica","access_key":"` + s3Access + `","secret_key":"` + s3Secret + `"}`,
		`{"name":"refused","kind":"http","base_url":"` + recv.URL + `","token":"` + wrong + `","verify":true}`,
		`{"name":"bad-s3","kind":"s3","endpoint":"` + s3URL + `","bucket":"missing","access_key":"k","secret_key":"` + s3Secret + `","verify":true}`,
	}
	var ids []string
	for _, b := range bodies {
		code, body, _ := a.do("POST", "/targets", b)
		if code == http.StatusCreated {
			var tg meta.Target
			if err := json.Unmarshal([]byte(body), &tg); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tg.ID)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("registered %d targets, want 3", len(ids))
	}
	a.do("POST", "/replicate?wait=true", `{"snapshot_id":"`+row.ID+`"}`)
	for _, id := range ids {
		a.do("GET", "/targets/"+id, "")
		a.do("POST", "/targets/"+id+"/check", "")
	}
	a.do("PATCH", "/targets/"+ids[1], `{"token":"`+newSecret+`"}`)
	a.do("GET", "/targets", "")
	a.do("GET", "/status", "")
	a.do("GET", "/events?limit=1000", "")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(h.ctx, &rm); err != nil {
		t.Fatal(err)
	}
	labels, err := json.Marshal(rm)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.answers.String(), `"status":"failed"`) {
		t.Fatal("no failed event was produced; the scan would prove little")
	}
	for where, text := range map[string]string{"API answers": a.answers.String(), "logs": h.logs.String(), "metrics": string(labels)} {
		for _, secret := range []string{token, wrong, s3Secret, newSecret} {
			if strings.Contains(text, secret) {
				t.Errorf("%s show the secret %q", where, secret)
			}
		}
	}
	// The secrets are kept, though: the target works.
	got, err := h.svc.Get(h.ctx, ids[0])
	if err != nil || got.Secret != token {
		t.Fatalf("stored secret: %v", err)
	}
}
