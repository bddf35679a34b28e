// A small graphql-transport-ws client (the protocol of the npm graphql-ws):
// connection_init with {Authorization: "Bearer …"}, subscribe / next / error /
// complete, ping → pong. It connects lazily, reconnects with backoff when the
// socket drops, and re-subscribes every active subscription (sink.reconnected
// tells the view, which may have missed events in between). Close codes 4401
// and 4403 (bad token) are final: every subscription errors.

import { APIError } from './api.js';

const PROTOCOL = 'graphql-transport-ws';
const ACK_TIMEOUT_MS = 10_000;
const IDLE_CLOSE_MS = 5_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * createClient({url, token, onStatus}) → {subscribe, dispose, status}
 * onStatus(state) gets 'idle' | 'connecting' | 'open' | 'reconnecting' | 'failed'.
 */
export function createClient({ url, token, onStatus = () => {} }) {
  const subs = new Map(); // id → {payload, sink, started}
  let ws = null;
  let acked = false;
  let nextId = 1;
  let attempt = 0;
  let retryTimer = 0;
  let idleTimer = 0;
  let ackTimer = 0;
  let disposed = false;
  let state = 'idle';

  const setState = (s) => {
    if (state === s) return;
    state = s;
    try { onStatus(s); } catch (e) { console.error(e); }
  };
  const send = (msg) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  };

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (disposed || ws) return;
    setState(attempt === 0 ? 'connecting' : 'reconnecting');
    let sock;
    try {
      sock = new WebSocket(url, PROTOCOL);
    } catch (err) {
      failAll(new APIError([{ message: `cannot open the live connection: ${err.message}`, extensions: { code: 'NETWORK_ERROR' } }]));
      return;
    }
    ws = sock;
    acked = false;
    sock.onopen = () => {
      sock.send(JSON.stringify({ type: 'connection_init', payload: token ? { Authorization: `Bearer ${token}` } : {} }));
      ackTimer = setTimeout(() => { if (!acked) sock.close(4408, 'connection_ack timeout'); }, ACK_TIMEOUT_MS);
    };
    sock.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { sock.close(4400, 'invalid message'); return; }
      if (sock !== ws) return;
      onMessage(msg);
    };
    sock.onerror = () => { /* a close event follows */ };
    sock.onclose = (ev) => {
      clearTimeout(ackTimer);
      if (sock !== ws) return;
      ws = null;
      acked = false;
      onClose(ev);
    };
  }

  function onMessage(msg) {
    switch (msg.type) {
      case 'connection_ack':
        clearTimeout(ackTimer);
        acked = true;
        attempt = 0;
        setState('open');
        for (const [id, s] of subs) start(id, s);
        break;
      case 'ping':
        send(msg.payload ? { type: 'pong', payload: msg.payload } : { type: 'pong' });
        break;
      case 'pong':
        break;
      case 'next': {
        const s = subs.get(msg.id);
        if (s) call(s.sink.next, msg.payload);
        break;
      }
      case 'error': {
        const s = subs.get(msg.id);
        if (s) {
          subs.delete(msg.id);
          call(s.sink.error, new APIError(Array.isArray(msg.payload) ? msg.payload : [msg.payload]));
        }
        idleSoon();
        break;
      }
      case 'complete': {
        const s = subs.get(msg.id);
        if (s) {
          subs.delete(msg.id);
          call(s.sink.complete);
        }
        idleSoon();
        break;
      }
      default:
        // Unknown message types are a protocol error (graphql-ws closes 4400).
        ws && ws.close(4400, `unexpected message type ${msg.type}`);
    }
  }

  function start(id, s) {
    send({ id, type: 'subscribe', payload: s.payload });
    if (s.started) call(s.sink.reconnected);
    s.started = true;
  }

  function onClose(ev) {
    if (disposed) return;
    if (ev.code === 4401 || ev.code === 4403) {
      const code = ev.code === 4401 ? 'UNAUTHENTICATED' : 'FORBIDDEN';
      failAll(new APIError([{ message: ev.reason || 'the live connection was refused: the token is missing or not valid', extensions: { code } }]));
      setState('failed');
      return;
    }
    if (subs.size === 0) {
      setState('idle');
      return;
    }
    // Reconnect with capped exponential backoff and jitter.
    attempt += 1;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(attempt - 1, 6)) * (0.75 + Math.random() * 0.5);
    setState('reconnecting');
    retryTimer = setTimeout(connect, delay);
  }

  function failAll(err) {
    const all = [...subs.values()];
    subs.clear();
    for (const s of all) call(s.sink.error, err);
  }

  function idleSoon() {
    clearTimeout(idleTimer);
    if (subs.size > 0) return;
    idleTimer = setTimeout(() => {
      if (subs.size === 0 && ws) {
        const sock = ws;
        ws = null;
        acked = false;
        sock.close(1000, 'idle');
        setState('idle');
      }
    }, IDLE_CLOSE_MS);
  }

  const onOnline = () => { if (retryTimer) connect(); };
  window.addEventListener('online', onOnline);

  return {
    get status() { return state; },
    /**
     * subscribe({query, variables}, {next, error, complete, reconnected}) →
     * unsubscribe(). next gets each {data, errors} payload.
     */
    subscribe(payload, sink) {
      if (disposed) throw new Error('the live client is closed');
      const id = String(nextId++);
      const s = { payload, sink, started: false };
      subs.set(id, s);
      clearTimeout(idleTimer);
      if (!ws && !retryTimer) connect();
      else if (ws && acked) start(id, s);
      return () => {
        if (!subs.has(id)) return;
        subs.delete(id);
        if (acked) send({ id, type: 'complete' });
        idleSoon();
      };
    },
    /** Closes the socket and drops every subscription silently. */
    dispose() {
      disposed = true;
      subs.clear();
      clearTimeout(retryTimer);
      clearTimeout(idleTimer);
      clearTimeout(ackTimer);
      window.removeEventListener('online', onOnline);
      if (ws) {
        const sock = ws;
        ws = null;
        sock.close(1000, 'bye');
      }
      setState('idle');
    },
  };
}

function call(fn, arg) {
  if (typeof fn !== 'function') return;
  try { fn(arg); } catch (e) { console.error(e); }
}
