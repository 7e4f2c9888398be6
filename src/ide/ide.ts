import path from 'node:path';
import express from 'express';
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
  <style>html, body, #ide { height: 100%; margin: 0; }</style>
</head>
<body>
  <div id="ide">Loading the GraphQL IDE…</div>
  <script src="/ide/react.js"></script>
  <script src="/ide/react-dom.js"></script>
  <script src="/ide/graphiql.js"></script>
  <script src="/ide/init.js"></script>
</body>
</html>`;

const INIT = (tabs: ReturnType<typeof exampleTabs>) => `(function () {
  var tabs = ${JSON.stringify(tabs)};
  var headers = JSON.stringify({ Authorization: 'Bearer <paste a token from the start-up banner or npm run token>' }, null, 2);
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + '/graphql' });
  var root = ReactDOM.createRoot(document.getElementById('ide'));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    defaultHeaders: headers,
    defaultTabs: tabs.map(function (t) { return { query: t.query, variables: t.variables, headers: headers }; }),
  }));
})();`;

/** GET /graphql from a browser (Accept: text/html) gets the IDE; its assets live under /ide/. */
export function ideRouter(): express.Router {
  const router = express.Router();
  const init = INIT(exampleTabs());
  router.get('/ide/init.js', (_req, res) => {
    res.type('application/javascript').set('cache-control', 'no-cache').send(init);
  });
  router.get('/ide/:file', (req, res, next) => {
    const file = ASSETS[req.params.file];
    if (!file) return next();
    res.set('cache-control', 'public, max-age=86400').sendFile(file);
  });
  router.get('/graphql', (req, res, next) => {
    if (!req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) || req.accepts(['text/html', 'application/json']) !== 'text/html') return next();
    if (req.query.query) return next();
    res.set('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; connect-src 'self'").type('html').send(PAGE);
  });
  return router;
}
