import { parseValidateInput, validateInput } from '../../../src/steps/validate-input';
import { packageBatch } from '../../../src/steps/package-batch';
import { registerRoute } from '../../../src/steps/register-route';
import { writePlaylist } from '../../../src/steps/write-playlist';
import { keys, revisionFor, videoIdFor } from '../../../src/core/naming';
import { ScriptedMediaTool } from '../../support/memory';
import { convertInMemory, stepSettings, uploadedClip } from '../../support/steps';

const settings = stepSettings();

describe('ValidateInput', () => {
  it('describes an .mp4 with video as the job the later states run on', async () => {
    const { ports, request } = await uploadedClip({ bytes: 5000 });
    const job = await validateInput(request, ports, settings);
    expect(job).toMatchObject({
      videoId: videoIdFor('clip.mp4'),
      revision: 'abcd1234',
      source: { key: 'clip.mp4', bytes: 5000, extension: '.mp4', kind: 'video' },
      options: { segmentSeconds: 10, profile: 'source' },
    });
  });

  it('takes the console input {"key": …}, naming the revision after the upload and the options as the trigger does', async () => {
    const { ports } = await uploadedClip();
    const input = parseValidateInput({ key: 'clip.mp4', options: { segmentSeconds: 4 } });
    const job = await validateInput(input, ports, settings);
    expect(job).toMatchObject({ videoId: videoIdFor('clip.mp4'), options: { segmentSeconds: 4, profile: 'source', ladder: 'auto' } });
    expect(job.revision).toBe(revisionFor('unversioned', { segmentSeconds: 4, profile: 'source', ladder: 'auto' }));
  });

  it("says what to type when started with the console's default input", () => {
    expect(() => parseValidateInput({ Comment: 'Insert your JSON here' })).toThrow(
      'execution input must name the object to convert: {"key": "<object key in the input bucket>"}',
    );
  });

  it('refuses a name that is not .mp4 or .mp3 before reading anything', async () => {
    const { ports } = await uploadedClip({ key: 'clip.avi' });
    const head = jest.spyOn(ports.objects, 'head');
    await expect(
      validateInput(parseValidateInput({ source: { key: 'clip.avi' }, revision: 'abcd1234' }), ports, settings),
    ).rejects.toMatchObject({
      name: 'UnsupportedExtension',
    });
    expect(head).not.toHaveBeenCalled();
  });

  it('says a missing object is missing (InputNotFound), an empty one empty (EmptyInput)', async () => {
    const { ports, request } = await uploadedClip();
    await ports.objects.put('input', 'clip.mp4', '');
    await expect(validateInput(request, ports, settings)).rejects.toMatchObject({
      name: 'EmptyInput',
      message: '"clip.mp4" is empty (0 bytes)',
    });
    await ports.objects.delete('input', 'clip.mp4');
    await expect(validateInput(request, ports, settings)).rejects.toMatchObject({ name: 'InputNotFound' });
  });

  it('refuses an input over the limit with both sizes, without probing it', async () => {
    const { ports, media, request } = await uploadedClip({ bytes: 2048 });
    const probe = jest.spyOn(media, 'probe');
    await expect(validateInput(request, ports, stepSettings({ maxInputBytes: 1024 }))).rejects.toMatchObject({
      name: 'InputTooLarge',
      message: '"clip.mp4" is 2.0 KiB; the limit is 1.0 KiB',
    });
    expect(probe).not.toHaveBeenCalled();
  });

  it('refuses a function prefix that leaves no room for the names, without probing', async () => {
    const { ports, media, request } = await uploadedClip();
    const probe = jest.spyOn(media, 'probe');
    await expect(
      validateInput(request, ports, stepSettings({ functionPrefix: 'a-much-too-long-service-name-for-the-production-stage-seg-' })),
    ).rejects.toMatchObject({
      name: 'NameTooLong',
    });
    expect(probe).not.toHaveBeenCalled();
  });

  it('takes an .mp4 of sound alone (an .m4a renamed, a voice memo) as audio, as an .mp3', async () => {
    const probe = { formatName: 'mov,mp4', durationSeconds: 3, audio: { codec: 'aac', channels: 2, sampleRate: 44100 } };
    const { ports, request } = await uploadedClip({ key: 'voice.mp4', probe });
    const job = await validateInput(request, ports, stepSettings());
    expect(job).toMatchObject({ source: { kind: 'audio', extension: '.mp4' }, plan: { video: 'none', audio: 'aac' } });
  });

  it.each([
    ['ffprobe cannot read it', 'clip.mp4', undefined, /^"clip.mp4": ffprobe cannot read it/],
    [
      'an .mp4 with neither video nor audio',
      'empty-tracks.mp4',
      { formatName: 'mov,mp4', durationSeconds: 3 },
      /has neither video nor audio/,
    ],
    ['an .mp3 without audio', 'odd.mp3', { formatName: 'mp3', durationSeconds: 3 }, /has no audio stream/],
    [
      'media without a duration',
      'still.mp4',
      { formatName: 'mov,mp4', durationSeconds: 0, video: { codec: 'h264', width: 2, height: 2 } },
      /has no playable duration/,
    ],
  ])('refuses %s as NotMedia, naming the file', async (_, key, probe, message) => {
    const { ports, request } = await uploadedClip({ key, ...(probe && { probe }) });
    // No probe scripted: the tool answers as ffprobe does for bytes it cannot read.
    const media = probe ? ports.media : new ScriptedMediaTool();
    await expect(validateInput(request, { ...ports, media }, settings)).rejects.toMatchObject({
      name: 'NotMedia',
      message: expect.stringMatching(message),
    });
  });

  describe('a published revision (served, or retired while players may hold its playlist)', () => {
    /** clip.mp4 converted as revision abcd1234 and registered; then the same upload converted as `next` and registered. */
    async function published(next?: string) {
      const clip = await uploadedClip();
      const first = await convertInMemory(clip, settings);
      await registerRoute({ job: first.job, playlist: first.playlist, offsetsKey: first.offsets.offsetsKey }, clip.ports, settings);
      if (next) {
        const second = await convertInMemory({ ...clip, request: { ...clip.request, revision: next } }, settings);
        await registerRoute({ job: second.job, playlist: second.playlist, offsetsKey: second.offsets.offsetsKey }, clip.ports, settings);
      }
      return { ...clip, first };
    }

    it.each([
      ['served', undefined, 'is being served'],
      ['retired', 'feed0001', 'was served and may still be played'],
    ])('refuses to build it again (%s), before reading the file: RevisionPublished', async (_, next, how) => {
      const { ports, request } = await published(next);
      const probe = jest.spyOn(ports.media, 'probe');
      const put = jest.spyOn(ports.objects, 'put');
      // The console's New execution: the input copied, revision included, other options.
      const again = { ...request, options: { ...request.options, segmentSeconds: 4 } };
      await expect(validateInput(again, ports, settings)).rejects.toMatchObject({
        name: 'RevisionPublished',
        message: `revision abcd1234 of ${videoIdFor('clip.mp4')} ${how}: its bytes are never written again; start the execution without "revision" to build a new one`,
      });
      expect(probe).not.toHaveBeenCalled();
      expect(put).not.toHaveBeenCalled();
    });

    it('refuses the run of an upload older than the served one, before reading the file (Superseded); a later one goes on', async () => {
      const clip = await uploadedClip();
      const served = await convertInMemory(
        { ...clip, request: { ...clip.request, upload: { sequencer: '0055AED6DCD90281F0' } } },
        settings,
      );
      await registerRoute({ job: served.job, playlist: served.playlist, offsetsKey: served.offsets.offsetsKey }, clip.ports, settings);
      const probe = jest.spyOn(clip.ports.media, 'probe');
      const older = { ...clip.request, revision: 'feed0001', upload: { sequencer: '0055AED6DCD90281E5' } };
      await expect(validateInput(older, clip.ports, settings)).rejects.toMatchObject({ name: 'Superseded' });
      expect(probe).not.toHaveBeenCalled();
      const newer = { ...clip.request, revision: 'feed0002', upload: { sequencer: '0055AED6DCD9028200' } };
      await expect(validateInput(newer, clip.ports, settings)).resolves.toMatchObject({
        revision: 'feed0002',
        upload: { sequencer: '0055AED6DCD9028200' },
        basis: { routeEtag: expect.stringMatching(/^"[0-9a-f]{32}"$/) },
      });
    });

    it('and each writer of its bytes refuses too (a batch or a playlist reaching it late), writing nothing', async () => {
      const { ports, first } = await published();
      const create = jest.spyOn(ports.code, 'createPackage');
      const put = jest.spyOn(ports.objects, 'put');
      await expect(packageBatch({ videoId: first.job.videoId, revision: 'abcd1234', batch: 0 }, ports, settings)).rejects.toMatchObject({
        name: 'RevisionPublished',
      });
      await expect(writePlaylist({ job: first.job, offsetsKey: first.offsets.offsetsKey }, ports)).rejects.toMatchObject({
        name: 'RevisionPublished',
      });
      expect(create).not.toHaveBeenCalled();
      expect(put).not.toHaveBeenCalled();
    });

    it('builds a new revision when started without one, and a damaged record does not block a conversion', async () => {
      const { ports, request } = await published();
      const { revision: _, ...withoutRevision } = request;
      expect(
        (await validateInput({ ...withoutRevision, options: { ...request.options, segmentSeconds: 4 } }, ports, settings)).revision,
      ).not.toBe('abcd1234');
      await ports.objects.put('output', keys.route(videoIdFor('clip.mp4')), 'not json', 'application/json');
      expect((await validateInput(request, ports, settings)).revision).toBe('abcd1234');
    });
  });
});
