/**
 * Connections to a Temporal frontend: Forløp's embedded server or a cluster.
 * The client (for the HTTP server and the event router) and the worker's
 * native connection are built from the same settings, so TLS/mTLS and API
 * keys are configured once.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions, type DataConverter } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';

export interface TemporalConnectionSettings {
  address: string;
  namespace: string;
  tls?: { clientCertPath?: string; clientKeyPath?: string; serverCaPath?: string; serverName?: string };
  apiKey?: string;
  /** gzip (the SDK default) suits a remote cluster; on loopback to the embedded server it only costs CPU. */
  compression?: 'gzip' | 'none';
}

function tlsOptions(settings: TemporalConnectionSettings) {
  const { tls } = settings;
  if (!tls) return undefined;
  return {
    serverNameOverride: tls.serverName,
    serverRootCACertificate: tls.serverCaPath ? readFileSync(tls.serverCaPath) : undefined,
    clientCertPair:
      tls.clientCertPath && tls.clientKeyPath ? { crt: readFileSync(tls.clientCertPath), key: readFileSync(tls.clientKeyPath) } : undefined,
  };
}

export async function connectClient(settings: TemporalConnectionSettings, dataConverter?: DataConverter): Promise<Client> {
  const options: ConnectionOptions = { address: settings.address, tls: tlsOptions(settings), apiKey: settings.apiKey };
  const connection = await Connection.connect(options);
  return new Client({ connection, namespace: settings.namespace, dataConverter });
}

export async function connectWorkerConnection(settings: TemporalConnectionSettings): Promise<NativeConnection> {
  const options: NativeConnectionOptions = {
    address: settings.address,
    tls: tlsOptions(settings),
    apiKey: settings.apiKey,
    grpcCompression: { codec: settings.compression ?? 'gzip' },
  };
  return NativeConnection.connect(options);
}
