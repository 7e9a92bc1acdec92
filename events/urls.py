from django.urls import include, path

from events.api import views

urlpatterns = [
    path("pixel.js", views.pixel_js, name="pixel-js"),
    path("api/v1/", include("events.api.urls")),
]
