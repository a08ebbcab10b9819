# Forløp's server and worker image (forlop serve / forlop worker), on the
# current Node LTS. `npm ci` runs the `prepare` build (temporal/build.js):
# dist/ holds the compiled embedded Temporal server and the prebuilt workflow
# bundles, so a container start does not bundle workflow code. The CLI's
# TypeScript runs through tsx (a runtime dependency).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY app ./app
COPY activities ./activities
COPY events ./events
COPY fhir ./fhir
COPY pathways ./pathways
COPY server ./server
COPY subscriptions ./subscriptions
COPY temporal ./temporal
COPY workflows ./workflows
COPY types ./types
RUN npm ci --omit=dev --ignore-scripts=false && npm cache clean --force && test -f dist/temporal-embedded.js && test -f dist/workflows/codec.js

FROM node:22-bookworm-slim
ENV NODE_ENV=production FORLOP_MODE=production FORLOP_HTTP_HOST=0.0.0.0 FORLOP_HTTP_PORT=8080
WORKDIR /app
COPY --from=build /app ./
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --retries=5 CMD ["node", "-e", "fetch('http://127.0.0.1:8080/fhir/metadata').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/forlop.js"]
CMD ["serve"]
