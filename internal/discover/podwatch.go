package discover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PodWatch keeps [Pods] in step with the pods the API server schedules on
// one node: it lists them (fieldSelector=spec.nodeName=<node>), then
// watches from the list's resourceVersion, resumes a watch that ends from
// the last resourceVersion it saw, lists again when the server says that
// version is gone (410), and reconnects with backoff after an error.
type PodWatch struct {
	Config KubeConfig
	Node   string // the node's name as the API server knows it (--node)
	Pods   *Pods
	Log    *slog.Logger // nil: discard

	// Between reconnects: minBackoff doubling up to maxBackoff; zero means
	// 500 ms and 30 s.
	minBackoff, maxBackoff time.Duration

	once  sync.Once
	ready chan struct{}
}

// The server ends a watch after watchTimeout; a watch that has not ended
// 30 s later is on a connection that died without a word, and a list that
// takes longer than listTimeout is given up. Both are then tried again.
const (
	watchTimeout = 5 * time.Minute
	listTimeout  = time.Minute
)

// errGone is the API server's 410: the resourceVersion is too old to watch
// from, so the pods have to be listed again.
var errGone = errors.New("resourceVersion gone (410)")

// Ready is closed once the first list has filled Pods.
func (w *PodWatch) Ready() <-chan struct{} {
	w.once.Do(func() { w.ready = make(chan struct{}) })
	return w.ready
}

// Run keeps Pods up to date until ctx ends, and then returns ctx's error.
// It returns early only for a configuration that cannot work.
func (w *PodWatch) Run(ctx context.Context) error {
	if w.Node == "" {
		return errors.New("discover: watching pods: no node name (set --node to this node's name in the cluster)")
	}
	if w.Pods == nil {
		return errors.New("discover: watching pods: PodWatch.Pods is nil")
	}
	client, err := w.Config.client()
	if err != nil {
		return err
	}
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	minB, maxB := w.minBackoff, w.maxBackoff
	if minB == 0 {
		minB, maxB = 500*time.Millisecond, 30*time.Second
	}
	backoff := minB
	w.Ready()
	var rv string
	relisted := false // since the last watch that ended well
	for {
		err = nil
		if rv == "" {
			rv, err = w.list(ctx, client)
			if err == nil {
				log.Debug("listed pods", "node", w.Node, "pods", w.Pods.Len(), "resourceVersion", rv)
				select {
				case <-w.ready:
				default:
					close(w.ready)
				}
			}
		}
		if err == nil {
			rv, err = w.watch(ctx, client, rv)
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil: // the server ended the watch: resume it
			backoff, relisted = minB, false
			continue
		case errors.Is(err, errGone):
			rv = ""
			if !relisted { // at once, but not in a loop with the server
				relisted = true
				log.Debug("pod watch expired, listing again", "node", w.Node)
				continue
			}
		}
		log.Warn("watching pods failed, retrying", "server", w.Config.Server, "node", w.Node, "in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxB)
	}
}

// list replaces Pods with the node's pods and returns the list's
// resourceVersion.
func (w *PodWatch) list(ctx context.Context, client *http.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	pods := map[string][]Container{}
	q := url.Values{"fieldSelector": {"spec.nodeName=" + w.Node}, "limit": {"500"}}
	for {
		body, err := w.get(ctx, client, q)
		if err != nil {
			return "", err
		}
		var l apiPodList
		err = json.NewDecoder(body).Decode(&l)
		body.Close()
		if err != nil {
			return "", fmt.Errorf("listing pods: %w", err)
		}
		for i := range l.Items {
			if cs := l.Items[i].containers(); cs != nil {
				pods[l.Items[i].Metadata.UID] = cs
			}
		}
		if l.Metadata.Continue == "" {
			w.Pods.replace(pods)
			return l.Metadata.ResourceVersion, nil
		}
		q.Set("continue", l.Metadata.Continue)
	}
}

// watch applies the events of one watch from rv and returns the last
// resourceVersion seen, to resume from.
func (w *PodWatch) watch(ctx context.Context, client *http.Client, rv string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, watchTimeout+30*time.Second)
	defer cancel()
	body, err := w.get(ctx, client, url.Values{
		"fieldSelector":       {"spec.nodeName=" + w.Node},
		"watch":               {"true"},
		"resourceVersion":     {rv},
		"allowWatchBookmarks": {"true"},
		"timeoutSeconds":      {strconv.Itoa(int(watchTimeout / time.Second))},
	})
	if err != nil {
		return rv, err
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var ev apiWatchEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return rv, nil
			}
			return rv, fmt.Errorf("watching pods: %w", err)
		}
		if ev.Type == "ERROR" {
			var st apiStatus
			json.Unmarshal(ev.Object, &st)
			if st.Code == http.StatusGone {
				return rv, errGone
			}
			return rv, fmt.Errorf("watching pods: server said %d %s: %s", st.Code, st.Reason, st.Message)
		}
		var p apiPod
		if err := json.Unmarshal(ev.Object, &p); err != nil {
			return rv, fmt.Errorf("watching pods: %s event: %w", ev.Type, err)
		}
		switch ev.Type {
		case "ADDED", "MODIFIED":
			w.Pods.set(p.Metadata.UID, p.containers())
		case "DELETED":
			w.Pods.set(p.Metadata.UID, nil)
		}
		if p.Metadata.ResourceVersion != "" {
			rv = p.Metadata.ResourceVersion
		}
	}
}

// get asks for /api/v1/pods with q and returns the body of a 200 answer.
func (w *PodWatch) get(ctx context.Context, client *http.Client, q url.Values) (io.ReadCloser, error) {
	token, err := w.Config.token()
	if err != nil {
		return nil, err
	}
	u := strings.TrimSuffix(w.Config.Server, "/") + "/api/v1/pods?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusGone {
		return nil, errGone
	}
	var st apiStatus
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &st) == nil && st.Message != "" {
		msg = st.Message
	}
	hint := ""
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		hint = " (the token was refused: check the service account's token or the kubeconfig's)"
	case http.StatusForbidden:
		hint = " (give the agent's service account get, list and watch on pods)"
	}
	return nil, fmt.Errorf("GET %s/api/v1/pods: %s: %s%s", w.Config.Server, resp.Status, msg, hint)
}
