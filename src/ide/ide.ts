import crypto from 'node:crypto';
import path from 'node:path';
import express from 'express';
import { ALL_ROLES, type Role } from '../common/tokens';
import { sendProblem } from '../common/http';
import { ErrorCode, TransportCode } from '../common/errors';
import { exampleTabs } from './examples';

/** The IDE's files, served from our own node_modules: no CDN (closed networks). */
const dir = (pkg: string) => path.dirname(require.resolve(`${pkg}/package.json`));
const ASSETS: Record<string, string> = {
  'react.js': path.join(dir('react'), 'umd', 'react.production.min.js'),
  'react-dom.js': path.join(dir('react-dom'), 'umd', 'react-dom.production.min.js'),
  'graphiql.js': path.join(dir('graphiql'), 'graphiql.min.js'),
  'graphiql.css': path.join(dir('graphiql'), 'graphiql.min.css'),
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>AI data governance · GraphQL IDE</title>
  <link rel="stylesheet" href="/ide/graphiql.css">
  <style>
    html, body { height: 100%; margin: 0; }
    body { display: flex; flex-direction: column; font: 14px/1.4 system-ui, sans-serif; }
    #ide { flex: 1; min-height: 0; }
    #ide-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 18px; padding: 6px 14px; background: #f4f6fa; border-bottom: 1px solid #d8dde6; }
    #ide-bar select { font: inherit; padding: 1px 4px; }
    #ide-bar .status { color: #555; }
    #ide-bar .error { color: #b00020; }
    #ide-bar .cards a { margin-right: 10px; }
    /* Example tabs show their titles on one line; the tab strip scrolls when they do not all fit. */
    .graphiql-session-header { min-width: 0; }
    .graphiql-tabs { min-width: 0; flex: 1; }
    .graphiql-tab { flex: 0 0 auto; }
    .graphiql-tab-button::before { white-space: nowrap; }
  </style>
</head>
<body>
  <div id="ide-bar"></div>
  <div id="ide">Loading the GraphQL IDE…</div>
  <script src="/ide/react.js"></script>
  <script src="/ide/react-dom.js"></script>
  <script src="/ide/graphiql.js"></script>
  <script src="/ide/init.js"></script>
</body>
</html>`;

/**
 * The page's script. Around GraphiQL: a bar with a role picker (development: a token for the chosen role is minted by
 * POST /ide/dev-token and put into the active tab's headers, each example tab gets one for its own role when it is
 * opened, and the schema is loaded again) and links to the dataset cards of the last response (any `cardUrl`); the
 * example tabs carry their friendly titles and open with their variables.
 */
const INIT = (settings: { tabs: ReturnType<typeof exampleTabs>; devTokens: boolean; roles: Role[] }) => `(function () {
  'use strict';
  var S = ${JSON.stringify({ ...settings, version: crypto.createHash('sha256').update(JSON.stringify(settings.tabs)).digest('hex').slice(0, 12) })};
  var h = React.createElement;
  var byOperation = {};
  S.tabs.forEach(function (t) { byOperation[(/(?:query|mutation)\\s+(\\w+)/.exec(t.query) || [])[1]] = t; });
  // Tabs are kept per version of the examples: new examples open fresh, with their variables.
  var storage = GraphiQL.createLocalStorage({ namespace: 'aidg-ide-' + S.version });
  var fresh = !storage.getItem('graphiql:tabState');
  var tokens = {};

  function devToken(role) {
    if (tokens[role]) return Promise.resolve(tokens[role]);
    return fetch('/ide/dev-token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: role }) })
      .then(function (res) { return res.json().then(function (body) {
        if (!res.ok) throw new Error(body.error ? body.error.message : 'HTTP ' + res.status);
        tokens[role] = body;
        return body;
      }); });
  }
  function parseHeaders(text) {
    try { var v = JSON.parse(text || '{}'); return v && typeof v === 'object' && !Array.isArray(v) ? v : {}; } catch (e) { return null; }
  }
  /** The role of a one-role token in an Authorization header ('' when it has several, or none that can be read). */
  function roleOf(authorization) {
    try {
      var payload = JSON.parse(atob(String(authorization).split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      return Array.isArray(payload.roles) && payload.roles.length === 1 ? payload.roles[0] : '';
    } catch (e) { return ''; }
  }
  function cardLinks(text) {
    var found = [];
    (function walk(v) {
      if (Array.isArray(v)) return v.forEach(walk);
      if (!v || typeof v !== 'object') return;
      if (typeof v.cardUrl === 'string' && v.cardUrl.charAt(0) === '/') found.push({ url: v.cardUrl, label: v.name ? v.name + (v.version ? ' v' + v.version : '') : v.id || 'card' });
      Object.keys(v).forEach(function (k) { if (k !== 'cardUrl') walk(v[k]); });
    })((function () { try { return JSON.parse(text || 'null'); } catch (e) { return null; } })());
    return found;
  }

  /** Rendered by GraphiQL inside its contexts (toolbar.additionalComponent); draws into #ide-bar through a portal. */
  function Bar() {
    var editor = GraphiQL.React.useEditorContext({ nonNull: true });
    var schema = GraphiQL.React.useSchemaContext({ nonNull: true });
    var tab = editor.tabs[editor.activeTabIndex];
    var example = tab && byOperation[tab.operationName || (/(?:query|mutation)\\s+(\\w+)/.exec(tab.query || '') || [])[1]];
    // state.tab: the index of the tab whose headers the state describes (the browser test waits for its own tab's).
    var st = React.useState({ role: '', message: '', error: false, tab: -1 }), state = st[0], setState = st[1];
    var lt = React.useState([]), links = lt[0], setLinks = lt[1];
    // Headers the IDE put into a tab (by tab id) that GraphiQL's tab state does not hold yet. React can run GraphiQL's
    // tab change again after they were written (when a less urgent tab update was still queued at the click), and
    // that writes the tab's stored headers back into the editor: until both the tab state and the editor hold them,
    // every render puts them back. A user's own edit of the headers ends that for the tab.
    var placed = React.useRef({}), now = React.useRef(editor);
    now.current = editor;
    function activeTabId() { var t = now.current.tabs[now.current.activeTabIndex]; return t && t.id; }
    React.useEffect(function () {
      var want = tab && placed.current[tab.id];
      if (want === undefined || !editor.headerEditor) return;
      if (editor.headerEditor.getValue() !== want) editor.headerEditor.setValue(want);
      else if (tab.headers === want) delete placed.current[tab.id];
    });
    React.useEffect(function () {
      var h = editor.headerEditor;
      if (!h) return;
      var edited = function (cm, change) { if (change && change.origin !== 'setValue') delete placed.current[activeTabId()]; };
      h.on('change', edited);
      return function () { h.off('change', edited); };
    }, [editor.headerEditor]);

    function useRole(role, why) {
      if (!role || !S.devTokens) return;
      var index = editor.activeTabIndex, tabId = activeTabId();
      setState({ role: role, message: 'signing a token for ' + role + '…', error: false, tab: -1 });
      devToken(role).then(function (signed) {
        // The tab it was asked for, even if another one is open by now (then its stored headers, put in when it opens).
        var open = activeTabId() === tabId, e = now.current;
        var stored = open ? e.headerEditor && e.headerEditor.getValue() : (e.tabs.filter(function (t) { return t.id === tabId; })[0] || {}).headers;
        var headers = parseHeaders(stored) || {};
        headers.Authorization = 'Bearer ' + signed.token;
        var text = JSON.stringify(headers, null, 2);
        placed.current[tabId] = text;
        if (!open) return;
        e.headerEditor.setValue(text);
        setState({ role: role, message: 'token for ' + role + ' in the Headers of this tab' + (why ? ' (' + why + ')' : '') + ', valid ' + Math.round(signed.expiresInSeconds / 60) + ' min', error: false, tab: index });
        // The schema again, with the token (GraphiQL reads the headers once they have settled).
        setTimeout(function () { schema.introspect(); }, 700);
      }).catch(function (err) { setState({ role: role, message: 'no token: ' + err.message, error: true, tab: -1 }); });
    }

    // An example tab without a token gets one for its own role when it is opened.
    React.useEffect(function () {
      if (!editor.headerEditor || !S.devTokens) return;
      var headers = parseHeaders(editor.headerEditor.getValue());
      if (headers && !headers.Authorization && example) useRole(example.role, 'the role of this example');
      else if (headers && headers.Authorization) setState({ role: roleOf(headers.Authorization), message: '', error: false, tab: editor.activeTabIndex });
    }, [tab && tab.id, !!editor.headerEditor]);

    // Links to the dataset cards of the response shown.
    React.useEffect(function () {
      var r = editor.responseEditor;
      if (!r) return;
      var update = function () { setLinks(cardLinks(r.getValue())); };
      update();
      r.on('change', update);
      return function () { r.off('change', update); };
    }, [editor.responseEditor]);

    // Friendly titles on the example tabs (GraphiQL titles a tab by its operation name).
    var css = editor.tabs.map(function (t, i) {
      var ex = byOperation[t.operationName || (/(?:query|mutation)\\s+(\\w+)/.exec(t.query || '') || [])[1]];
      if (!ex) return '';
      var sel = '#graphiql-session-tab-' + i;
      return sel + '{font-size:0}' + sel + '::before{content:' + JSON.stringify(ex.title) + ';font-size:var(--font-size-body,15px)}';
    }).join('\\n');

    var bar = h(React.Fragment, null,
      h('style', null, css),
      S.devTokens
        ? h('span', { className: 'roles' },
            h('label', null, 'Token for role ',
              h('select', { id: 'ide-role', value: state.role, 'aria-label': 'Role of the token in this tab\\'s headers',
                onChange: function (e) { useRole(e.target.value, ''); } },
                h('option', { value: '' }, '— pick a role —'),
                S.roles.map(function (r) { return h('option', { key: r, value: r }, r + (example && example.role === r ? ' (this example)' : '')); }))),
            ' ', h('span', { className: state.error ? 'error' : 'status', id: 'ide-role-status', 'data-tab': String(state.tab) }, state.message))
        : h('span', { className: 'status' }, 'Put a token into Headers: {"Authorization": "Bearer <token>"} (npm run token)'),
      h('span', { className: 'cards', id: 'ide-cards' },
        links.length ? 'Dataset cards (open in a browser tab, links valid 15 min): ' : 'Dataset cards: run the "Cards" tab (or any query with cardUrl) for links',
        links.map(function (l, i) { return h('a', { key: i, href: l.url, target: '_blank', rel: 'noopener noreferrer', className: 'card-link' }, l.label); })));
    return ReactDOM.createPortal(bar, document.getElementById('ide-bar'));
  }

  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + '/graphql' });
  var first = S.tabs[0];
  var props = {
    fetcher: fetcher,
    storage: storage,
    defaultEditorToolsVisibility: 'variables',
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    defaultHeaders: '',
    defaultTabs: S.tabs.map(function (t) { return { query: t.query, variables: t.variables, headers: '' }; }),
    toolbar: { additionalComponent: Bar },
  };
  // GraphiQL fills the editors of the first tab from these, not from defaultTabs.
  if (fresh) { props.query = first.query; props.variables = first.variables; }
  ReactDOM.createRoot(document.getElementById('ide')).render(h(GraphiQL, props));
})();`;

/** Where a request comes from this machine (the development tokens are for the developer at the keyboard). */
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export interface IdeOptions {
  /**
   * Signs a short-lived development token for a role (POST /ide/dev-token); undefined: no such endpoint (production).
   */
  devToken?: (role: Role) => Promise<{ token: string; subject: string; expiresInSeconds: number }>;
}

/** GET /graphql from a browser (Accept: text/html) gets the IDE; its assets live under /ide/. */
export function ideRouter(options: IdeOptions = {}): express.Router {
  const router = express.Router();
  const init = INIT({ tabs: exampleTabs(), devTokens: !!options.devToken, roles: ALL_ROLES });
  router.get('/ide/init.js', (_req, res) => {
    res.type('application/javascript').set('cache-control', 'no-cache').send(init);
  });
  if (options.devToken) {
    const sign = options.devToken;
    router.post('/ide/dev-token', express.json({ limit: 1024 }), async (req, res, next) => {
      try {
        if (!LOOPBACK.has(req.socket.remoteAddress ?? '')) {
          return sendProblem(
            res,
            ErrorCode.FORBIDDEN,
            'Development tokens are only given to this machine (loopback); elsewhere use npm run token',
          );
        }
        const origin = req.headers.origin;
        if (origin && origin !== 'null' && new URL(origin).host !== req.headers.host) {
          return sendProblem(res, ErrorCode.FORBIDDEN, 'Development tokens are only given to the IDE of this server (Origin mismatch)');
        }
        const role = (req.body as { role?: unknown } | undefined)?.role;
        if (typeof role !== 'string' || !ALL_ROLES.includes(role as Role)) {
          return sendProblem(res, TransportCode.BAD_REQUEST, `Send {"role": one of ${ALL_ROLES.join(', ')}} as application/json`);
        }
        const signed = await sign(role as Role);
        res.set('cache-control', 'no-store').json({ role, ...signed });
      } catch (err) {
        next(err);
      }
    });
  }
  router.get('/ide/:file', (req, res, next) => {
    const file = ASSETS[req.params.file];
    if (!file) return next();
    res.set('cache-control', 'public, max-age=86400').sendFile(file);
  });
  router.get('/graphql', (req, res, next) => {
    if (
      !req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) ||
      req.accepts(['text/html', 'application/json']) !== 'text/html'
    )
      return next();
    if (req.query.query) return next();
    res
      .set(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; connect-src 'self'",
      )
      .type('html')
      .send(PAGE);
  });
  return router;
}
