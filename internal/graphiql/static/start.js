// Starts GraphiQL (the React and GraphiQL builds embedded in tenantd, from
// the pinned npm packages: see vendor/VERSIONS) on this server's /graphql,
// subscriptions over its WebSocket. In development, on this machine, the
// page carries the development admin token's Authorization header: it is
// prefilled in the headers editor and never stored in the browser (GraphiQL
// 3 keeps the headers of each query in its history even with
// shouldPersistHeaders off: the storage below drops them).
(() => {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || '';
  // react-remove-scroll (GraphiQL's dialogs) adds a <style> element with
  // this nonce, which the page's Content-Security-Policy allows.
  window.__webpack_nonce__ = meta('tenantd-style-nonce');
  const endpoint = new URL(meta('tenantd-graphql-endpoint') || '/graphql', location.href);
  const socket = new URL(endpoint);
  socket.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
  const headers = meta('tenantd-graphiql-headers');
  // localStorage as GraphiQL uses it, except that its history and
  // favourites are written without their headers.
  const withoutHeaders = (key, value) => {
    if (!/:(queries|favorites)$/.test(key)) return value;
    try {
      const stored = JSON.parse(value);
      for (const list of Object.values(stored)) {
        if (Array.isArray(list)) for (const item of list) delete item.headers;
      }
      return JSON.stringify(stored);
    } catch {
      return value;
    }
  };
  const storage = new Proxy(window.localStorage, {
    get(target, prop) {
      if (prop === 'setItem') return (key, value) => target.setItem(key, withoutHeaders(key, String(value)));
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: socket.href });
  const props = {
    fetcher,
    storage,
    shouldPersistHeaders: false,
    defaultQuery: '# tenantd (development). Ctrl-Enter runs the operation.\n{\n  viewer {\n    role\n  }\n}\n',
  };
  if (headers) {
    props.defaultHeaders = headers;
    props.headers = headers;
    props.defaultEditorToolsVisibility = 'headers';
  }
  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props));
})();
