# Forløp's server and worker image (forlop serve / forlop worker), on the
# current Node LTS. TypeScript runs through tsx (a runtime dependency), so
# the image holds the sources and the production dependencies only.
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts=false && npm cache clean --force

FROM node:22-bookworm-slim
ENV NODE_ENV=production FORLOP_MODE=production FORLOP_HTTP_HOST=0.0.0.0 FORLOP_HTTP_PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY app ./app
COPY activities ./activities
COPY events ./events
COPY fhir ./fhir
COPY pathways ./pathways
COPY server ./server
COPY temporal ./temporal
COPY workflows ./workflows
COPY types ./types
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --retries=5 CMD ["node", "-e", "fetch('http://127.0.0.1:8080/fhir/metadata').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/forlop.js"]
CMD ["serve"]
