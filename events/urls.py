from django.urls import include, path

from events.api import views
from events.demo import demo_store

urlpatterns = [
    path("pixel.js", views.pixel_js, name="pixel-js"),
    path("api/v1/", include("events.api.urls")),
    path("demo/store/", demo_store, name="demo-store"),
]
