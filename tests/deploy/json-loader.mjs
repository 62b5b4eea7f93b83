// Module hook for validate.mjs: @actions/workflow-parser imports its JSON
// schema without an import attribute (it expects a bundler); load any .json
// module as JSON.
export async function load(url, context, nextLoad) {
  if (url.endsWith('.json'))
    return nextLoad(url, { ...context, importAttributes: { type: 'json' } });
  return nextLoad(url, context);
}
