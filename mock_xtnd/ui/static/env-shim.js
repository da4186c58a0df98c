// TanStack Virtual's ES module reads process.env.NODE_ENV (a bundler would replace it): give it production.
window.process = window.process || { env: { NODE_ENV: "production" } };
