// The stateless serverless half: the HTTP API, its Lambda route groups and the scheduled functions.
// Route groups are constructs of their own (one per concern) that receive what they need from here.
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/environment-config';
import type { EnclaveArtifacts } from '../shared/enclave-artifacts';
import type { StateStack } from '../state/state-stack';
import { AttestationRoutes } from './attestation-routes';
import { DomainFunction } from './domain-function';
import { Indexer } from './indexer';
import { NodeJoinRoutes } from './node-join-routes';
import { NodeRosterRoutes } from './node-roster-routes';
import { PlatformApi } from './platform-api';
import { TokenCheckRoutes } from './token-check-routes';

export interface ApiStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly state: StateStack;
  /** `https://<nlb dns>:6443` of the K3s server. */
  readonly serverUrl: string;
  /** The enclave build (pcrs.json) the attestation routes verify against. */
  readonly enclave: EnclaveArtifacts;
}

export class ApiStack extends Stack {
  public readonly api: PlatformApi;
  public readonly indexer: Indexer;
  public readonly attestation: AttestationRoutes;
  /** Settings every function reads at cold start (DESIGN §4). */
  public readonly commonEnvironment: Record<string, string>;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.api = new PlatformApi(this, 'Api', {
      throttleRatePerSecond: config.api.throttleRatePerSecond,
      throttleBurst: config.api.throttleBurst,
      publicRouteThrottle: config.api.publicRouteThrottle,
      logRetentionDays: config.logRetentionDays,
    });
    this.commonEnvironment = {
      TABLE_NAME: props.state.table.tableName,
      CLUSTER_ID: config.sui.clusterId,
      SUI_NETWORK: config.sui.network,
      SUI_GRPC_URL: config.sui.grpcUrl,
      SUI_PACKAGE_ID: config.sui.packageId,
    };

    const healthz = new DomainFunction(this, 'Healthz', {
      handlerName: 'healthz',
      description: 'GET /healthz',
      memorySize: 128,
      logRetentionDays: config.logRetentionDays,
      production: config.production,
    });
    this.api.addRoute({ method: apigwv2.HttpMethod.GET, path: '/healthz', handler: healthz, authorization: 'none',
      publicBecause: 'Liveness probe; returns a constant and reads nothing.' });

    this.indexer = new Indexer(this, 'Indexer', { config, table: props.state.table, commonEnvironment: this.commonEnvironment });

    new NodeJoinRoutes(this, 'NodeJoinRoutes', { api: this.api, config, state: props.state, serverUrl: props.serverUrl, commonEnvironment: this.commonEnvironment });
    this.attestation = new AttestationRoutes(this, 'AttestationRoutes', { api: this.api, config, state: props.state, enclave: props.enclave, serverUrl: props.serverUrl, commonEnvironment: this.commonEnvironment });
    new TokenCheckRoutes(this, 'TokenCheckRoutes', { api: this.api, config, state: props.state, commonEnvironment: this.commonEnvironment });
    new NodeRosterRoutes(this, 'NodeRosterRoutes', { api: this.api, config, state: props.state });
  }
}
