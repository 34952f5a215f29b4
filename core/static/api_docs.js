/* The API reference page: Swagger UI over the document named by #swagger-ui[data-spec-url].
 * A file of its own because the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    // No call to validator.swagger.io: hospital intranets have no internet, and the document
    // must not leave the building.
    validatorUrl: null,
    // "Try it out" sends the bearer token typed under "Authorize", never the page's cookie.
    withCredentials: false,
  });
})();
