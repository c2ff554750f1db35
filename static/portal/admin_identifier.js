// Endpoint admin: show only the customer-identifier fields the chosen location uses.
// Without JavaScript every field shows and its help text says which location it is for;
// the save keeps only the fields of the chosen location either way.
(function () {
  "use strict";
  var USED_BY = {
    identifier_header: ["header"],
    identifier_format: ["header", "body", "cookie"],
    identifier_body_field: ["body"],
  };
  var BODY_FIELD_DEFAULT = "customer_auth";

  function row(name) {
    return document.querySelector(".form-row.field-" + name) ||
      document.querySelector(".field-" + name);
  }

  function apply(location) {
    Object.keys(USED_BY).forEach(function (name) {
      var el = row(name);
      if (el) {
        // style, not the hidden attribute: the admin's CSS gives rows a display of their own
        el.style.display = USED_BY[name].indexOf(location) === -1 ? "none" : "";
      }
    });
    var bodyField = document.getElementById("id_identifier_body_field");
    if (location === "body" && bodyField && !bodyField.value) {
      bodyField.value = BODY_FIELD_DEFAULT; // cleared when another location was saved
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_identifier_location");
    if (!select) {
      return;
    }
    apply(select.value);
    select.addEventListener("change", function () {
      apply(select.value);
    });
  });
})();
