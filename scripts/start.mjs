// `npm start`: the desktop app. Until the app lands (issue 3), say so and point at what works today.
console.log(`Backprop Studio: the desktop app (editor, training view) is not built yet; it arrives with the app issue.
What works today is the engine and its command line, for example:

  npx bpstudio check examples/spiral.bpstudio
  npx bpstudio train examples/spiral.bpstudio
  npx bpstudio grad examples/seed-function.bpstudio --nodes --json
`);
