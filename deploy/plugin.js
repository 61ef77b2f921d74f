'use strict';
// What `serverless package` and `serverless deploy` need beyond the framework itself:
//
// 0. `serverless remove` first runs `lambda-hls delete --all` for the stage: segment functions are
//    made at run time, so CloudFormation does not know them and would leave them behind, and the
//    work and output buckets must be empty before CloudFormation can delete them.
// 1. The ffmpeg layer is assembled (layers/ffmpeg/build.mjs) before packaging when it is missing
//    or older than the build script, so `npx serverless deploy` works from a fresh clone.
// 2. Its config schema stops at nodejs20.x; Lambda has nodejs22.x (and newer), which this
//    project uses everywhere. The plugin adds the current Node runtimes to the schema's runtime
//    list so `configValidationMode: error` still checks everything else strictly.
// 3. `serverless deploy` checks the reserved concurrency the template asks for against the account
//    (GetAccountSettings) before CloudFormation, and stops saying what the account has: AWS would
//    refuse it mid-deploy and roll the stack back (deploy/concurrency.js).
// 4. `serverless package` with a layer asks CloudFormation whether the layer changed since the
//    last deploy (to skip re-uploading it), which needs credentials. With no credentials, and
//    only for `package`, the plugin skips that question: the package is complete without it, and
//    `deploy` (which has credentials) still asks it.

const CURRENT_NODE_RUNTIMES = ['nodejs22.x', 'nodejs24.x'];

const { spawnSync } = require('node:child_process');
const { existsSync, readFileSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { checkReservations } = require('./concurrency');

class LambdaHlsDeploy {
  constructor(serverless) {
    this.serverless = serverless;
    this.allowCurrentRuntimes();
    this.hooks = {
      'before:package:initialize': () => this.buildLayer(),
      'before:remove:remove': () => this.deleteSegmentFunctions(),
      'before:package:compileLayers': () => this.tolerateMissingCredentials(),
      'before:deploy:deploy': () => this.checkConcurrency(),
    };
  }

  async checkConcurrency() {
    const provider = this.serverless.getProvider('aws');
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const lambda = {
      accountSettings: () => provider.request('Lambda', 'getAccountSettings', {}),
      functionConcurrency: async (name) => {
        try {
          return (await provider.request('Lambda', 'getFunctionConcurrency', { FunctionName: name })).ReservedConcurrentExecutions;
        } catch (error) {
          // Not deployed yet: it holds no reservation.
          if (/RESOURCE_?NOT_?FOUND/i.test(String(error?.providerError?.code ?? error?.code ?? ''))) return undefined;
          throw error;
        }
      },
    };
    try {
      const checked = await checkReservations(template, lambda, provider.getRegion());
      if (checked)
        this.serverless.cli.log(
          `lambda-hls: the account's concurrency (${checked.account.limit}, ${checked.account.unreserved} unreserved) takes the reservations`,
        );
    } catch (error) {
      throw new this.serverless.classes.Error(`lambda-hls: ${error.message}`);
    }
  }

  deleteSegmentFunctions() {
    const provider = this.serverless.getProvider('aws');
    const stage = provider.getStage();
    const region = provider.getRegion();
    const cli = join(this.serverless.serviceDir, 'bin', 'lambda-hls.js');
    const env = { ...process.env };
    const profile = this.serverless.processedInput?.options?.['aws-profile'] ?? this.serverless.service.provider.profile;
    if (profile) env.AWS_PROFILE = profile;
    this.serverless.cli.log(`lambda-hls: deleting every video and segment function of ${stage} before the stack`);
    const run = spawnSync(process.execPath, [cli, 'delete', '--all', '--stage', stage, '--region', region], { stdio: 'inherit', env });
    if (run.status !== 0) {
      throw new this.serverless.classes.Error(
        `lambda-hls delete --all --stage ${stage} --region ${region} failed, so the stack was not removed ` +
          '(its segment functions would be left behind); fix the cause above and run serverless remove again',
      );
    }
  }

  buildLayer() {
    const dir = join(this.serverless.serviceDir, 'layers', 'ffmpeg');
    const script = join(dir, 'build.mjs');
    const built = join(dir, 'build', 'bin', 'ffprobe');
    const arch = this.serverless.service.provider.architecture ?? 'x86_64';
    // A given binary (LAMBDA_HLS_LAYER_FFMPEG / _FFPROBE) is checked and copied on every package;
    // the layer is built again when `npm run build:ffmpeg` has built (or removed) its binaries since.
    const given = process.env.LAMBDA_HLS_LAYER_FFMPEG || process.env.LAMBDA_HLS_LAYER_FFPROBE;
    const source = join(dir, 'source', 'bin', 'ffprobe');
    const wanted = arch === 'x86_64' && existsSync(source) ? 'source' : 'npm';
    const origin = (() => {
      try {
        return JSON.parse(readFileSync(join(dir, 'build', 'ORIGIN'), 'utf8')).ffprobe;
      } catch {
        return undefined;
      }
    })();
    const fresh = (path) => existsSync(built) && statSync(built).mtimeMs >= statSync(path).mtimeMs;
    if (!given && origin === wanted && fresh(script) && (wanted === 'npm' || fresh(source))) return;
    const run = spawnSync(process.execPath, [script, '--arch', arch], { stdio: 'inherit' });
    if (run.status !== 0)
      throw new this.serverless.classes.Error(
        `the ffmpeg layer could not be built (node ${join('layers', 'ffmpeg', 'build.mjs')} --arch ${arch})`,
      );
  }

  allowCurrentRuntimes() {
    const runtimes = this.serverless.configSchemaHandler?.schema?.definitions?.awsLambdaRuntime?.enum;
    if (!Array.isArray(runtimes)) return;
    for (const runtime of CURRENT_NODE_RUNTIMES) if (!runtimes.includes(runtime)) runtimes.push(runtime);
  }

  tolerateMissingCredentials() {
    const commands = this.serverless.processedInput?.commands ?? [];
    if (commands.join(' ') !== 'package') return;
    const compiler = this.serverless.pluginManager.plugins.find((p) => p.constructor.name === 'AwsCompileLayers');
    if (!compiler) return;
    const compare = compiler.compareWithLastLayer.bind(compiler);
    compiler.compareWithLastLayer = async (layerName) => {
      try {
        return await compare(layerName);
      } catch (error) {
        if (error?.code !== 'AWS_CREDENTIALS_NOT_FOUND') throw error;
        this.serverless.cli.log?.(`offline package: layer ${layerName} not compared with a deployed stack (no AWS credentials)`);
        return undefined;
      }
    };
  }
}

module.exports = LambdaHlsDeploy;
