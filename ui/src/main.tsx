import { render } from "preact";

function App() {
  return (
    <main>
      <h1>Tessera</h1>
      <p>The console is on its way. The verify API is live at <code>/v1/verify</code>.</p>
    </main>
  );
}

render(<App />, document.getElementById("app")!);
